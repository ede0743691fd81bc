"""parse_phone: what a person types, read with the workspace's region, to E.164 and a type."""

from __future__ import annotations

import pytest

from comptoir.contacts.phones import parse_phone
from comptoir.core.errors import ValidationError


@pytest.mark.parametrize(
    ("raw", "region", "e164", "number_type"),
    [
        ("06 12 34 56 78", "FR", "+33612345678", "mobile"),
        ("0612345678", "FR", "+33612345678", "mobile"),
        ("06-12-34-56-78", "FR", "+33612345678", "mobile"),
        ("06.12.34.56.78", "FR", "+33612345678", "mobile"),
        ("  07 81 23 45 67  ", "FR", "+33781234567", "mobile"),
        ("+33 6 12 34 56 78", "FR", "+33612345678", "mobile"),
        ("+33 (0)6 12 34 56 78", "FR", "+33612345678", "mobile"),
        ("0033 6 12 34 56 78", "FR", "+33612345678", "mobile"),
        ("+33612345678", "US", "+33612345678", "mobile"),
        ("01 99 00 12 34", "FR", "+33199001234", "fixed_line"),
        ("+33 1 99 00 12 34", "US", "+33199001234", "fixed_line"),
        ("0800 123 456", "FR", "+33800123456", "toll_free"),
        ("(212) 555-0123", "US", "+12125550123", "fixed_or_mobile"),
        ("+1 212 555 0123", "FR", "+12125550123", "fixed_or_mobile"),
        ("+44 7911 123456", "FR", "+447911123456", "mobile"),
        ("06 12 34 56 78", "fr", "+33612345678", "mobile"),  # region in lower case
    ],
)
def test_parse_phone_valid(raw: str, region: str, e164: str, number_type: str) -> None:
    phone = parse_phone(raw, region=region)
    assert phone.e164 == e164
    assert phone.number_type == number_type


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("", "FR", "required"),
        ("   ", "FR", "required"),
        ("AMAZON", "FR", "no digits"),
        ("abc", "FR", "no digits"),
        ("+", "FR", "no digits"),
        ("3", "FR", "not a phone number"),
        ("0612", "FR", "not a valid number"),
        ("06 12 34 56 78 9", "FR", "not a valid number"),
        ("06 12 34 56 78", "US", "not a valid number"),  # a French national number in the US
        ("+33 6 12", "FR", "not a valid number"),
        ("9" * 300, "FR", "not a phone number"),
    ],
)
def test_parse_phone_invalid(raw: str, region: str, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_phone(raw, region=region)
    assert info.value.field == "phone"
    assert reason in info.value.message
    assert info.value.status == 422


def test_parse_phone_names_the_field_it_was_given() -> None:
    with pytest.raises(ValidationError) as info:
        parse_phone("AMAZON", region="FR", field="messages.3.to")
    assert info.value.field == "messages.3.to"


@pytest.mark.parametrize(
    ("raw", "textable"),
    [
        ("06 12 34 56 78", True),
        ("+1 212 555 0123", True),  # US numbers are fixed-or-mobile: assume they can text
        ("01 99 00 12 34", False),
        ("0800 123 456", False),
    ],
)
def test_textable(raw: str, textable: bool) -> None:
    assert parse_phone(raw, region="FR").textable is textable


def test_time_zones_implied_by_the_number() -> None:
    assert parse_phone("06 12 34 56 78", region="FR").timezones == ("Europe/Paris",)
    assert parse_phone("+1 212 555 0123", region="FR").timezones == ("America/New_York",)
