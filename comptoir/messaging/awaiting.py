"""Which customers may be answering a question we sent: the reply steps' cheap filter.

Inbound steps that act on answers (appointment reminders, profiling questions, surveys,
waitlist offers, alerts…) each need to look up "the question this customer was sent".
Most texts answer nothing, so each step first keeps only the messages whose contact
`awaiting_until` is still ahead: no query at all when nobody in a batch was asked
anything. A message of a kind registered here sets it, in the transaction that queues
it (one UPDATE per batch and window).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db.models import Max

from comptoir.contacts.models import Contact
from comptoir.messaging.models import Direction, Message

# Message kind → how long after it is sent a reply may answer it. Apps add their own
# kinds from their AppConfig.ready(); the longest window of the kinds sent wins.
AWAITED_KINDS: dict[str, dt.timedelta] = {}


def awaited_kind_register(kind: str, window: dt.timedelta) -> None:
    AWAITED_KINDS[kind] = max(window, AWAITED_KINDS.get(kind, dt.timedelta(0)))


def awaiting_record(messages: Sequence[Message], now: dt.datetime) -> None:
    """Mark the contacts these new messages ask something of (one UPDATE per window)."""
    by_until: dict[dt.datetime, set[Any]] = defaultdict(set)
    for message in messages:
        window = AWAITED_KINDS.get(message.kind)
        if window is not None and message.contact_id is not None:
            by_until[now + window].add(message.contact_id)
    for until, contact_ids in by_until.items():
        # A longer wait already running is kept: only later deadlines move it.
        Contact.objects.filter(id__in=contact_ids).exclude(awaiting_until__gt=until).update(
            awaiting_until=until
        )


def awaiting_filter(messages: Sequence[Message], now: dt.datetime) -> list[Message]:
    """The messages whose sender was asked something still open (read from the objects)."""
    kept = []
    for message in messages:
        contact = message.contact if message.contact_id is not None else None
        until = getattr(contact, "awaiting_until", None)
        if until is not None and until > now:
            kept.append(message)
    return kept


def questions_latest(
    workspace_id: Any, contact_ids: set[Any], *, since: dt.datetime, besides: set[str]
) -> dict[Any, dt.datetime]:
    """When each contact was last sent a question of another kind than `besides` (one
    query): a reply answers the latest question, so a step leaves it to a later one."""
    kinds = set(AWAITED_KINDS) - besides
    if not kinds or not contact_ids:
        return {}
    rows = (
        Message.objects.for_workspace(workspace_id)
        .filter(
            contact_id__in=contact_ids,
            direction=Direction.OUT,
            kind__in=kinds,
            created_at__gte=since,
        )
        .values("contact_id")
        .annotate(last=Max("created_at"))
    )
    return {row["contact_id"]: row["last"] for row in rows}
