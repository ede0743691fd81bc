"""Writes on what the shop's other software tells us: customer events (orders, purchases)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.automations.models import CustomerEvent
from comptoir.contacts.models import Contact
from comptoir.core.errors import Conflict, ValidationError
from comptoir.workspaces.models import Workspace

# "order.ready", "purchase", "loyalty.points_added": lower-case words joined by dots.
EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\Z")
MAX_DATA_CHARS = 16_384
# An event dated further ahead than this is a wrong clock or a wrong field, not news.
FUTURE_SLACK = dt.timedelta(days=1)


class EventConflict(Conflict):
    code = "event_conflict"


def _type_clean(value: str) -> str:
    value = (value or "").strip()
    longest = CustomerEvent._meta.get_field("type").max_length or 64
    if not EVENT_TYPE.match(value) or len(value) > longest:
        raise ValidationError(
            _(
                "%(type)r is not an event type: use lower-case words joined by dots, "
                "like order.ready (at most %(max)d characters)."
            )
            % {"type": value, "max": longest},
            field="type",
        )
    return value


def _data_clean(data: Mapping[str, Any] | None) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValidationError(_("The event's data must be an object."), field="data")
    try:
        text = json.dumps(dict(data), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            _("The event's data cannot be stored as JSON: %(why)s") % {"why": exc}, field="data"
        ) from exc
    if len(text) > MAX_DATA_CHARS:
        raise ValidationError(
            _("The event's data is too large (%(size)d characters, at most %(max)d).")
            % {"size": len(text), "max": MAX_DATA_CHARS},
            field="data",
        )
    loaded: dict[str, Any] = json.loads(text)  # what the database will give back
    return loaded


def _occurred_clean(value: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    if value is None:
        return now
    if timezone.is_naive(value):
        raise ValidationError(
            _("The event's time needs a time zone, like 2026-11-23T10:00:00+01:00."),
            field="occurred_at",
        )
    if value > now + FUTURE_SLACK:
        raise ValidationError(
            _("The event is dated %(at)s, in the future: send it once it has happened.")
            % {"at": value.isoformat()},
            field="occurred_at",
        )
    return value


def _same_event(existing: CustomerEvent, contact: Contact, type_: str) -> CustomerEvent:
    if existing.contact_id != contact.id or existing.type != type_:
        raise EventConflict(
            _("Event id %(id)r was already used for another event (%(type)s).")
            % {"id": existing.external_id, "type": existing.type},
            field="external_id",
        )
    return existing


def customer_event_record(
    *,
    workspace: Workspace,
    contact: Contact,
    type: str,  # "order.ready": the name integrators use, though it shadows the builtin
    occurred_at: dt.datetime | None = None,
    external_id: str = "",
    data: Mapping[str, Any] | None = None,
) -> tuple[CustomerEvent, bool]:
    """Record that something happened to a customer; returns (event, created).

    The same `external_id` sent again (a retried webhook) returns the first event
    unchanged; reused for a different customer or type, it is a conflict.
    """
    if contact.workspace_id != workspace.id:
        raise ValidationError(_("This customer is not in this workspace."), field="contact")
    type_ = _type_clean(type)
    external_id = (external_id or "").strip()
    longest = CustomerEvent._meta.get_field("external_id").max_length or 100
    if len(external_id) > longest:
        raise ValidationError(
            _("An event id is at most %(max)d characters.") % {"max": longest},
            field="external_id",
        )
    clean = _data_clean(data)
    when = _occurred_clean(occurred_at, timezone.now())
    if external_id:
        existing = (
            CustomerEvent.objects.for_workspace(workspace).filter(external_id=external_id).first()
        )
        if existing is not None:
            return _same_event(existing, contact, type_), False
    try:
        with transaction.atomic():
            event = CustomerEvent.objects.create(
                workspace=workspace,
                contact=contact,
                type=type_,
                external_id=external_id,
                data=clean,
                occurred_at=when,
            )
    except IntegrityError:  # the same event, stored meanwhile by a concurrent delivery
        existing = CustomerEvent.objects.for_workspace(workspace).get(external_id=external_id)
        return _same_event(existing, contact, type_), False
    return event, True


def latest_order_event(workspace: Workspace | Any, contact: Contact) -> CustomerEvent | None:
    """The customer's most recent order event ("order.ready", "order.shipped"…), if any."""
    return (
        CustomerEvent.objects.for_workspace(workspace)
        .filter(contact=contact, type__startswith="order.")
        .order_by("-occurred_at", "-created_at")
        .first()
    )
