"""Phone numbers: E.164 normalisation, number type, and the time zone a number implies."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phone_timezone

from comptoir.core.errors import ValidationError

NUMBER_TYPES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
}
# Types that can receive an SMS (fixed-or-mobile is the US/CA answer for every number).
TEXTABLE_TYPES = frozenset({"mobile", "fixed_or_mobile", "voip", "personal"})


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    region: str | None
    number_type: str

    @property
    def textable(self) -> bool:
        return self.number_type in TEXTABLE_TYPES

    @property
    def timezones(self) -> tuple[str, ...]:
        """The time zones the number's prefix implies (several for a big country)."""
        number = phonenumbers.parse(self.e164)
        zones = phone_timezone.time_zones_for_number(number)
        return tuple(z for z in zones if z != "Etc/Unknown")


@lru_cache(maxsize=65536)
def _parse(text: str, region: str) -> Phone | str:
    """The parsed number, or why it is not one (cached: campaigns text the same people)."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        return f"{text!r} is not a phone number: {exc._msg}"
    # number_type() is what is_valid_number() computes underneath; ask once.
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        return (
            f"{text!r} is not a valid number for region {region} "
            "(write it with its country code, like +33 6 12 34 56 78)."
        )
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(number),
        number_type=NUMBER_TYPES.get(kind, "unknown"),
    )


def parse_phone(raw: str, *, region: str, field: str = "phone") -> Phone:
    """Parse a number as typed by a person (national or international) into E.164.

    Raises ValidationError naming `field` and the reason when it is not a valid number.
    """
    text = (raw or "").strip()
    if not text:
        raise ValidationError("A phone number is required.", field=field)
    if not any(ch.isdigit() for ch in text):
        raise ValidationError(f"{text!r} is not a phone number: it has no digits.", field=field)
    parsed = _parse(text, region.upper())
    if isinstance(parsed, str):
        raise ValidationError(parsed, field=field)
    return parsed
