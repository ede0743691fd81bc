"""Segments as SQL: a definition becomes one WHERE clause over the workspace's contacts.

This is the interface campaigns and the UI build on: `segment_queryset` and
`segment_count`. No contact is ever looked at in Python: purchase history and consent
are EXISTS / IN subqueries the database evaluates in one statement, so counting 100,000
contacts costs one query (see comptoir/benchmarks/segments_count.py for the figures).
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from functools import reduce
from operator import and_, or_
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Lower, Substr
from django.db.models.lookups import In
from django.utils import timezone

from comptoir.compliance.models import ConsentEvent
from comptoir.contacts.models import Contact, Purchase
from comptoir.core.errors import NotFound
from comptoir.segments.definition import (
    INTEREST_PREFIX,
    PURCHASE_FIELDS,
    Condition,
    definition_clean,
)
from comptoir.segments.models import Segment
from comptoir.workspaces.models import Workspace

ContactTag = Contact.tags.through
# A saved segment, or a definition being edited (see comptoir.segments.definition).
SegmentLike = Segment | dict[str, Any] | list[Any]


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` calendar months earlier (31 March - 1 month = 28/29 February)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _purchases(workspace: Workspace, condition: Condition) -> QuerySet[Purchase]:
    """The workspace's purchases matching the condition's product filters and dates."""
    # The workspace first: another shop's purchases never enter the scan.
    purchases = Purchase.objects.filter(workspace=workspace)
    for field in PURCHASE_FIELDS:
        if field in condition:
            values = condition[field]
            values = [values] if isinstance(values, str) else values
            # Point-of-sale exports write "Gold", "gold" or "GOLD": compared without case.
            purchases = purchases.filter(
                reduce(or_, (Q(**{f"{field}__iexact": v}) for v in values))
            )
    if "from" in condition:
        purchases = purchases.filter(purchased_on__gte=dt.date.fromisoformat(condition["from"]))
    if "to" in condition:
        purchases = purchases.filter(purchased_on__lte=dt.date.fromisoformat(condition["to"]))
    return purchases


def _member(rows: QuerySet[Any], *, negate: bool = False) -> Q:
    """Contacts that have at least one of these rows (a purchase, a tag), or none with `negate`.

    `IN (subquery)` is one scan on both databases (SQLite runs a correlated EXISTS as a
    probe per contact: 7 times slower on 100,000). Negated, PostgreSQL gets NOT EXISTS,
    an anti-join: its NOT IN over a list larger than work_mem falls back to a scan per row.
    """
    if not negate:
        return Q(id__in=rows.values("contact_id"))
    if connection.vendor == "postgresql":
        return ~Q(Exists(rows.filter(contact_id=OuterRef("pk"))))
    return ~Q(id__in=rows.values("contact_id"))


def _range(
    purchases: QuerySet[Purchase], aggregate: Sum | Count, condition: Condition, parse: type
) -> Q:
    """Contacts whose aggregate over these purchases (0 without any) is within min..max.

    One GROUP BY over the workspace's purchases rather than a subquery per contact; a
    maximum also takes the contacts without a matching purchase (0 is below it).
    """
    per_contact = purchases.values("contact_id").annotate(value=aggregate)
    q = Q()
    if "min" in condition and parse(condition["min"]) > 0:
        q &= Q(id__in=per_contact.filter(value__gte=parse(condition["min"])).values("contact_id"))
    if "max" in condition:
        within = per_contact.filter(value__lte=parse(condition["max"])).values("contact_id")
        q &= Q(id__in=within) | _member(purchases, negate=True)
    return q


def _tagged(workspace: Workspace, name: str, *, negate: bool) -> Q:
    # Tag names compared without case: "VIP" and "vip" are one tag to the shop.
    rows = ContactTag.objects.filter(tag__workspace=workspace, tag__name__iexact=name)
    return _member(rows, negate=negate)


def _consent(workspace: Workspace, condition: Condition, *, negate: bool) -> Q:
    """The latest event for the purpose on the channel's family decides (as
    comptoir.compliance.consent reads it): texts and calls share one, email has its own.

    "Latest" is "no later event" (at, then id for the same instant), so the database
    runs it as an anti-join rather than a sorted subquery per contact.
    """
    events = ConsentEvent.objects.filter(workspace=workspace, purpose=condition["purpose"])
    if condition["channel"] == "email":
        events = events.filter(channel="email")
    else:
        events = events.exclude(channel="email")
    if condition["state"] == "none":
        return _member(events, negate=not negate)
    later = events.filter(
        Q(at__gt=OuterRef("at")) | Q(at=OuterRef("at"), id__gt=OuterRef("id")),
        contact_id=OuterRef("contact_id"),
    )
    latest = events.filter(~Exists(later), action=condition["state"])
    return _member(latest, negate=negate)


def _birthday_month(months: list[int]) -> Q:
    if connection.vendor == "sqlite":
        # Dates are ISO text there: "1980-03-14"[5:7]. Django's month extraction is a
        # Python function called per row, 10 times slower on 100,000 contacts.
        return Q(In(Substr("birthday", 6, 2), [f"{m:02d}" for m in months]))
    return Q(birthday__month__in=months)


def _attribute(condition: Condition) -> Q:
    key, value = condition["key"], condition["value"]
    # An import may have stored 5 as "5", and a form may type "5" for 5: both match.
    values: list[Any] = [value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        values.append(str(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value)
        except ArithmeticError:
            number = None
        if number is not None and number.is_finite():
            values.append(int(number) if number == number.to_integral_value() else float(number))
    # "__exact" spelled out: a key named like a lookup ("contains") stays a key.
    return reduce(or_, (Q(**{f"attributes__{key}__exact": v}) for v in values))


def _condition(condition: Condition, workspace: Workspace, today: dt.date) -> Q:
    kind, negate = condition["kind"], bool(condition.get("not"))
    # Membership conditions apply "not" themselves, in the form each database runs best.
    if kind in ("tag", "interest"):
        name = condition["tag"] if kind == "tag" else INTEREST_PREFIX + condition["interest"]
        return _tagged(workspace, name, negate=negate)
    if kind == "bought":
        return _member(_purchases(workspace, condition), negate=negate)
    if kind == "consent":
        return _consent(workspace, condition, negate=negate)
    if kind == "not_bought_since":
        since = months_before(today, condition["months"])
        recent = Purchase.objects.filter(workspace=workspace, purchased_on__gt=since)
        return _member(recent, negate=not negate)
    q: Q
    if kind == "language":
        q = Q(In(Lower("language"), condition["languages"]))
    elif kind == "birthday_month":
        q = _birthday_month(condition["months"])
    elif kind == "prospect":
        q = Q(is_prospect=condition["value"])
    elif kind == "attribute":
        q = _attribute(condition)
    elif kind == "total_spent":
        q = _range(_purchases(workspace, condition), Sum("amount"), condition, Decimal)
    elif kind == "purchase_count":
        q = _range(_purchases(workspace, condition), Count("*"), condition, int)
    else:  # definition_clean lets no other kind through
        raise AssertionError(kind)
    return ~q if negate else q


def _combine(match: str, parts: list[Q]) -> Q:
    if not parts:
        return Q()
    return reduce(and_ if match == "all" else or_, parts)


def definition_q(definition: dict[str, Any], workspace: Workspace) -> Q:
    """The WHERE clause of a cleaned definition, for the workspace's contacts."""
    today = timezone.now().astimezone(workspace.tz).date()
    parts = []
    for condition in definition["conditions"]:
        if "conditions" in condition:
            inner = [_condition(c, workspace, today) for c in condition["conditions"]]
            parts.append(_combine(condition["match"], inner))
        else:
            parts.append(_condition(condition, workspace, today))
    return _combine(definition["match"], parts)


def segment_queryset(segment_or_definition: SegmentLike, workspace: Workspace) -> QuerySet[Contact]:
    """The workspace's contacts in a segment (a saved one, or a definition being edited).

    A definition is checked first (ValidationError naming the condition); a saved
    segment of another workspace is NotFound. The result is a lazy query set: filter,
    order, count or stream it; it never leaves the workspace.
    """
    if isinstance(segment_or_definition, Segment):
        if segment_or_definition.workspace_id != workspace.id:
            raise NotFound("No such segment.", field="segment")
        raw: Any = segment_or_definition.definition
    else:
        raw = segment_or_definition
    definition = definition_clean(raw)
    return Contact.objects.for_workspace(workspace).filter(definition_q(definition, workspace))


def segment_count(segment_or_definition: SegmentLike, workspace: Workspace) -> int:
    """How many contacts the segment holds now (one COUNT query)."""
    return segment_queryset(segment_or_definition, workspace).count()


def segment_sample(
    segment_or_definition: SegmentLike, workspace: Workspace, size: int = 10
) -> list[Contact]:
    """A few contacts of the segment, by name, for the editor to show who is in it."""
    contacts = segment_queryset(segment_or_definition, workspace)
    return list(contacts.order_by("last_name", "first_name", "id")[:size])
