"""Segments as SQL: each kind of condition, combinations, validation, workspace scoping."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from comptoir.compliance.consent import consent_record
from comptoir.contacts.models import Contact, Purchase
from comptoir.contacts.services import tags_get_or_create
from comptoir.core.errors import NotFound, ValidationError
from comptoir.segments.definition import definition_clean
from comptoir.segments.query import months_before, segment_count, segment_queryset
from comptoir.segments.services import DuplicateSegment, segment_create, segment_update
from comptoir.workspaces.models import Workspace

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def contact(workspace: Workspace, phone: str, **fields: Any) -> Contact:
    tags = fields.pop("tags", [])
    made = Contact.objects.create(workspace=workspace, phone=phone, **fields)
    if tags:
        made.tags.set(tags_get_or_create(workspace=workspace, names=tags))
    return made


def bought(who: Contact, on: dt.date, amount: str = "100", **fields: str) -> Purchase:
    return Purchase.objects.create(
        workspace_id=who.workspace_id,
        contact=who,
        purchased_on=on,
        amount=Decimal(amount),
        **fields,
    )


def phones(workspace: Workspace, definition: Any) -> set[str]:
    return set(segment_queryset(definition, workspace).values_list("phone", flat=True))


def one(condition: dict[str, Any]) -> dict[str, Any]:
    return {"match": "all", "conditions": [condition]}


@pytest.fixture
def shop(workspace: Workspace) -> dict[str, Contact]:
    """A small customer base with purchases, tags and consent."""
    people = {
        "anne": contact(
            workspace,
            "+33600000001",
            language="fr",
            birthday=dt.date(1980, 3, 14),
            attributes={"loyalty_level": "gold", "visits": 5, "contains": "x"},
            tags=["vip", "interest:gold"],
        ),
        "bob": contact(workspace, "+33600000002", language="EN", birthday=dt.date(1990, 7, 1)),
        "chloe": contact(
            workspace, "+33600000003", language="fr", attributes={"visits": "5"}, tags=["VIP"]
        ),
        "dan": contact(workspace, "+33600000004", is_prospect=True),
    }
    # Anne: gold jewellery two years ago, nothing since.
    bought(people["anne"], dt.date(2024, 6, 1), "450", product_type="Jewellery", material="GOLD")
    bought(people["anne"], dt.date(2024, 9, 1), "80", product_type="watch", brand="Seiko")
    # Bob: gold jewellery, and a recent purchase.
    bought(people["bob"], dt.date(2023, 1, 10), "300", product_type="jewellery", material="gold")
    bought(people["bob"], TODAY - dt.timedelta(days=30), "50", product_type="jewellery")
    # Chloe: silver only, 13 months ago.
    bought(people["chloe"], months_before(TODAY, 13), "120", material="silver")
    return people


def test_months_before_keeps_the_day_or_the_month_end() -> None:
    assert months_before(dt.date(2026, 11, 23), 12) == dt.date(2025, 11, 23)
    assert months_before(dt.date(2026, 3, 31), 1) == dt.date(2026, 2, 28)
    assert months_before(dt.date(2024, 3, 31), 1) == dt.date(2024, 2, 29)
    assert months_before(dt.date(2026, 1, 15), 13) == dt.date(2024, 12, 15)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"kind": "language", "languages": ["fr"]}, {"anne", "chloe"}),
        ({"kind": "language", "languages": ["en", "de"]}, {"bob"}),  # stored "EN"
        ({"kind": "birthday_month", "months": [3, 7]}, {"anne", "bob"}),
        ({"kind": "birthday_month", "months": [12]}, set()),
        ({"kind": "prospect"}, {"dan"}),
        ({"kind": "prospect", "value": False}, {"anne", "bob", "chloe"}),
        ({"kind": "attribute", "key": "loyalty_level", "value": "gold"}, {"anne"}),
        ({"kind": "attribute", "key": "visits", "value": 5}, {"anne", "chloe"}),  # 5 and "5"
        ({"kind": "attribute", "key": "visits", "value": "5"}, {"anne", "chloe"}),
        ({"kind": "attribute", "key": "contains", "value": "x"}, {"anne"}),  # a lookup's name
        ({"kind": "tag", "tag": "vip"}, {"anne", "chloe"}),  # "VIP" too: no case
        ({"kind": "tag", "tag": "vip", "not": True}, {"bob", "dan"}),
        ({"kind": "interest", "interest": "Gold"}, {"anne"}),
        ({"kind": "bought"}, {"anne", "bob", "chloe"}),
        ({"kind": "bought", "product_type": "jewellery", "material": "gold"}, {"anne", "bob"}),
        ({"kind": "bought", "material": ["silver", "platinum"]}, {"chloe"}),
        ({"kind": "bought", "brand": "seiko"}, {"anne"}),
        (
            {
                "kind": "bought",
                "product_type": "jewellery",
                "from": "2024-01-01",
                "to": "2024-12-31",
            },
            {"anne"},
        ),
        ({"kind": "bought", "not": True}, {"dan"}),
        ({"kind": "not_bought_since", "months": 12}, {"anne", "chloe", "dan"}),
        ({"kind": "not_bought_since", "months": 14}, {"anne", "dan"}),
        ({"kind": "not_bought_since", "months": 12, "not": True}, {"bob"}),
        ({"kind": "total_spent", "min": 350}, {"anne", "bob"}),
        ({"kind": "total_spent", "min": "530.00"}, {"anne"}),
        ({"kind": "total_spent", "max": 200}, {"chloe", "dan"}),  # no purchase: 0 spent
        ({"kind": "total_spent", "min": 100, "max": 400}, {"bob", "chloe"}),
        ({"kind": "total_spent", "min": 300, "material": "gold"}, {"bob", "anne"}),
        ({"kind": "purchase_count", "min": 2}, {"anne", "bob"}),
        ({"kind": "purchase_count", "max": 0}, {"dan"}),
        ({"kind": "purchase_count", "min": 1, "max": 1, "product_type": "jewellery"}, {"anne"}),
    ],
)
def test_each_kind_of_condition(
    workspace: Workspace, shop: dict[str, Contact], condition: dict[str, Any], expected: set[str]
) -> None:
    names = {c.phone: name for name, c in shop.items()}
    assert {names[p] for p in phones(workspace, one(condition))} == expected


def test_bought_gold_jewellery_not_seen_for_12_months(
    workspace: Workspace, shop: dict[str, Contact]
) -> None:
    definition = {
        "match": "all",
        "conditions": [
            {"kind": "bought", "product_type": "jewellery", "material": "gold"},
            {"kind": "not_bought_since", "months": 12},
        ],
    }
    assert phones(workspace, definition) == {shop["anne"].phone}
    assert segment_count(definition, workspace) == 1


def test_consent_is_the_latest_event_per_purpose_and_channel_family(workspace: Workspace) -> None:
    granted = contact(workspace, "+33600000011")
    revoked = contact(workspace, "+33600000012")
    silent = contact(workspace, "+33600000013")
    by_email = contact(workspace, "+33600000014")
    service_only = contact(workspace, "+33600000015")
    earlier = NOW - dt.timedelta(days=3)
    consent_record(
        contact=granted, purposes=["marketing"], action="granted", source="import", at=earlier
    )
    consent_record(
        contact=revoked, purposes=["marketing"], action="granted", source="import", at=earlier
    )
    # A STOP by text (the "sms" channel) and a later one by voice: the phone family.
    consent_record(contact=revoked, purposes=["marketing"], action="revoked", source="keyword")
    consent_record(
        contact=by_email,
        purposes=["marketing"],
        action="granted",
        source="form",
        channel="email",
    )
    consent_record(contact=service_only, purposes=["service"], action="granted", source="staff")

    def who(condition: dict[str, Any]) -> set[str]:
        return phones(workspace, one({"kind": "consent", **condition}))

    assert who({"channel": "sms"}) == {granted.phone}
    assert who({"channel": "email"}) == {by_email.phone}
    assert who({"channel": "sms", "state": "revoked"}) == {revoked.phone}
    assert who({"channel": "sms", "state": "none"}) == {
        silent.phone,
        by_email.phone,
        service_only.phone,
    }
    # "Not granted" includes those who never said anything (no NULL trap).
    assert who({"channel": "sms", "not": True}) == {
        revoked.phone,
        silent.phone,
        by_email.phone,
        service_only.phone,
    }
    assert who({"channel": "sms", "purpose": "service"}) == {service_only.phone}
    # A grant after the revocation wins again.
    consent_record(contact=revoked, purposes=["marketing"], action="granted", source="keyword",
                   at=NOW + dt.timedelta(seconds=1))  # fmt: skip
    assert who({"channel": "sms"}) == {granted.phone, revoked.phone}


def test_any_and_groups(workspace: Workspace, shop: dict[str, Contact]) -> None:
    either = {
        "match": "any",
        "conditions": [{"kind": "prospect"}, {"kind": "language", "languages": ["en"]}],
    }
    assert phones(workspace, either) == {shop["dan"].phone, shop["bob"].phone}
    grouped = {
        "match": "all",
        "conditions": [
            {"kind": "language", "languages": ["fr"]},
            {
                "match": "any",
                "conditions": [
                    {"kind": "tag", "tag": "vip", "not": True},
                    {"kind": "total_spent", "min": 500},
                ],
            },
        ],
    }
    assert phones(workspace, grouped) == {shop["anne"].phone}
    # A bare list is "all of these"; no condition at all is everyone.
    assert phones(workspace, [{"kind": "prospect"}]) == {shop["dan"].phone}
    assert segment_count({"match": "all", "conditions": []}, workspace) == 4


def test_counting_is_one_query_whatever_the_conditions(
    workspace: Workspace, shop: dict[str, Contact]
) -> None:
    definition = {
        "match": "any",
        "conditions": [
            {"kind": "bought", "product_type": "jewellery", "material": "gold"},
            {"kind": "not_bought_since", "months": 12},
            {"kind": "total_spent", "min": 100, "max": 1000},
            {"kind": "purchase_count", "min": 2},
            {"kind": "consent", "channel": "email"},
            {"kind": "tag", "tag": "vip"},
            {"match": "all", "conditions": [{"kind": "birthday_month", "months": [3]}]},
        ],
    }
    with CaptureQueriesContext(connection) as queries:
        assert segment_count(definition, workspace) == 4
    assert len(queries) == 1


def test_contacts_never_leave_their_workspace(
    workspace: Workspace, other_workspace: Workspace, shop: dict[str, Contact]
) -> None:
    stranger = contact(other_workspace, "+33600000001", language="fr", tags=["vip"])
    bought(stranger, dt.date(2024, 1, 1), "999", product_type="jewellery", material="gold")
    definition = one({"kind": "bought", "material": "gold"})
    assert phones(workspace, definition) == {shop["anne"].phone, shop["bob"].phone}
    assert segment_queryset(definition, other_workspace).get() == stranger
    assert segment_count(one({"kind": "tag", "tag": "vip"}), other_workspace) == 1
    theirs = segment_create(workspace=other_workspace, name="Gold", definition=definition)
    with pytest.raises(NotFound):
        segment_count(theirs, workspace)


def test_saved_segments_are_stored_in_canonical_form(workspace: Workspace) -> None:
    segment = segment_create(
        workspace=workspace,
        name="  Gold   lovers ",
        definition=[{"kind": "bought", "material": ["Gold", "gold "], "from": "2024-01-01"}],
    )
    assert segment.name == "Gold lovers"
    assert segment.definition == {
        "match": "all",
        "conditions": [{"kind": "bought", "material": "Gold", "from": "2024-01-01"}],
    }
    with pytest.raises(DuplicateSegment) as caught:
        segment_create(workspace=workspace, name="Gold lovers", definition=[])
    assert caught.value.field == "name"
    segment_update(segment=segment, definition={"match": "any", "conditions": []})
    segment.refresh_from_db()
    assert segment.definition == {"match": "any", "conditions": []}
    assert segment.name == "Gold lovers"


@pytest.mark.parametrize(
    ("definition", "field", "words"),
    [
        ("gold", "definition", "is an object"),
        ({"match": "some"}, "match", "all"),
        ({"conditions": [], "limit": 3}, "limit", "only"),
        ({"conditions": "x"}, "conditions", "list"),
        ([42], "conditions.0", "Condition 1"),
        ([{"kind": "colour"}], "conditions.0.kind", "must be one of"),
        ([{}, {"kind": "bought", "materal": "gold"}], "conditions.0.kind", "Condition 1"),
        (
            [{"kind": "prospect"}, {"kind": "bought", "materal": "gold"}],
            "conditions.1.materal",
            "Condition 2 (bought), materal",
        ),
        ([{"kind": "not_bought_since"}], "conditions.0.months", "whole number from 1 to 600"),
        ([{"kind": "not_bought_since", "months": 0}], "conditions.0.months", "1 to 600"),
        ([{"kind": "not_bought_since", "months": True}], "conditions.0.months", "whole"),
        ([{"kind": "not_bought_since", "months": 12, "not": "yes"}], "conditions.0.not", "true"),
        ([{"kind": "birthday_month", "months": [13]}], "conditions.0.months", "1 to 12"),
        ([{"kind": "birthday_month", "months": []}], "conditions.0.months", "list of months"),
        ([{"kind": "language", "languages": "fr"}], "conditions.0.languages", "list"),
        ([{"kind": "attribute", "key": "a__b c", "value": 1}], "conditions.0.key", "letters"),
        ([{"kind": "attribute", "key": "level", "value": None}], "conditions.0.value", "text"),
        ([{"kind": "attribute", "key": "level", "value": float("nan")}], "conditions.0.value", ""),
        ([{"kind": "tag", "tag": "  "}], "conditions.0.tag", "non-empty"),
        ([{"kind": "tag", "tag": "x" * 65}], "conditions.0.tag", "64"),
        ([{"kind": "bought", "from": "31/12/2024"}], "conditions.0.from", "YYYY-MM-DD"),
        (
            [{"kind": "bought", "from": "2025-01-01", "to": "2024-01-01"}],
            "conditions.0.to",
            "before",
        ),
        ([{"kind": "bought", "material": []}], "conditions.0.material", "list of 1"),
        ([{"kind": "total_spent"}], "conditions.0.min", "minimum, a maximum"),
        ([{"kind": "total_spent", "min": -5}], "conditions.0.min", "at least 0"),
        ([{"kind": "total_spent", "min": "lots"}], "conditions.0.min", "amount"),
        ([{"kind": "total_spent", "min": 50, "max": 10}], "conditions.0.max", "below"),
        ([{"kind": "purchase_count", "min": 1.5}], "conditions.0.min", "whole"),
        ([{"kind": "consent", "channel": "fax"}], "conditions.0.channel", "sms, email"),
        ([{"kind": "consent", "state": "maybe"}], "conditions.0.state", "granted"),
        (
            [{"kind": "prospect"}, {"match": "any", "conditions": []}],
            "conditions.1.conditions",
            "1 to 50",
        ),
        (
            [{"match": "any", "conditions": [{"kind": "prospect"}, {"kind": "tag"}]}],
            "conditions.0.conditions.1.tag",
            "Condition 1, sub-condition 2 (tag), tag",
        ),
        (
            [{"match": "any", "conditions": [{"match": "all", "conditions": []}]}],
            "conditions.0.conditions.0",
            "one level deep",
        ),
    ],
)
def test_a_bad_definition_names_the_condition_and_its_setting(
    workspace: Workspace, definition: Any, field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        definition_clean(definition)
    assert caught.value.field == field
    assert words in caught.value.message
    with pytest.raises(ValidationError):
        segment_count(definition, workspace)
