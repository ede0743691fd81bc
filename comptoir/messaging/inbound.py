"""Storing what providers tell us, whichever provider: one service for every webhook.

Events are stored before the provider gets its HTTP answer, deduplicated by the
provider's id, so a webhook delivered twice stores one message.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby

from django.db import IntegrityError, transaction
from django.utils import timezone

from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact
from comptoir.contacts.phones import parse_phone
from comptoir.core.bulk import insert_rows
from comptoir.core.errors import ValidationError
from comptoir.core.ids import uuid7
from comptoir.messaging.encoding import analyze
from comptoir.messaging.models import (
    Direction,
    Message,
    MessageTransition,
    PendingReceipt,
    Purpose,
    Status,
)
from comptoir.providers.base import (
    ChannelEvent,
    DeliveryStatus,
    Event,
    InboundMessage,
    StatusUpdate,
)

log = logging.getLogger(__name__)

# Which states a receipt may move a message from. A receipt arriving late for a message
# the reaper marked `unknown` still settles it.
RECEIPT_MOVES = {
    DeliveryStatus.SENT: (Status.SENDING, Status.UNKNOWN),
    DeliveryStatus.DELIVERED: (Status.SENDING, Status.SENT, Status.UNKNOWN),
    DeliveryStatus.FAILED: (Status.SENDING, Status.SENT, Status.UNKNOWN),
}
RECEIPT_STAMP = {
    DeliveryStatus.SENT: "sent_at",
    DeliveryStatus.DELIVERED: "delivered_at",
    DeliveryStatus.FAILED: "failed_at",
}

# Called with the newly stored inbound messages. Steps run inside the storing transaction,
# so what they record (an opt-out) is never lost between the two; they must be quick.
# Handlers run after commit (automation replies, auto-answers, the inbox).
InboundHandler = Callable[[Sequence[Message]], None]
INBOUND_STEPS: list[InboundHandler] = []
INBOUND_HANDLERS: list[InboundHandler] = []
# Called inside the storing transaction with a channel's calls and other channel events
# (the inbox records calls in conversations and texts back after a missed call).
ChannelEventStep = Callable[[Channel, Sequence[ChannelEvent]], None]
CHANNEL_EVENT_STEPS: list[ChannelEventStep] = []


@dataclass
class StoreReport:
    received: list[Message] = field(default_factory=list)
    duplicates: int = 0
    statuses: int = 0
    unmatched: int = 0
    channel_events: int = 0


def sender_contact(channel: Channel, sender: str) -> Contact | None:
    """The contact for an inbound sender; unknown numbers become prospects.

    Alphanumeric senders ("AMAZON") cannot be answered: no contact, the message is kept.
    """
    try:
        phone = parse_phone(sender, region=channel.workspace.region, field="from")
    except ValidationError:
        return None
    contact, _ = Contact.objects.get_or_create(
        workspace=channel.workspace,
        phone=phone.e164,
        defaults={"number_type": phone.number_type, "is_prospect": True},
    )
    return contact


def _store_inbound(channel: Channel, events: Sequence[InboundMessage], report: StoreReport) -> None:
    ids = [e.provider_id for e in events if e.provider_id]
    known = set(
        Message.objects.filter(
            channel=channel, direction=Direction.IN, provider_id__in=ids
        ).values_list("provider_id", flat=True)
    )
    now = timezone.now()
    for event in events:
        if event.provider_id and event.provider_id in known:
            report.duplicates += 1
            continue
        info = analyze(event.body, smart=False)
        message = Message(
            id=uuid7(),
            workspace_id=channel.workspace_id,
            channel=channel,
            contact=sender_contact(channel, event.sender),
            direction=Direction.IN,
            address=event.sender,
            body=event.body,
            purpose=Purpose.CONVERSATIONAL,
            status=Status.RECEIVED,
            send_at=event.received_at or now,
            provider_id=event.provider_id,
            encoding=info.encoding.value,
            segments=info.segments,
        )
        try:
            with transaction.atomic():
                message.save(force_insert=True)
        except IntegrityError:
            report.duplicates += 1  # a concurrent delivery of the same webhook won
            continue
        MessageTransition.objects.create(message=message, status=Status.RECEIVED, at=now)
        known.add(event.provider_id)
        report.received.append(message)


def _apply_statuses(
    channel: Channel, events: Sequence[StatusUpdate], report: StoreReport, *, keep: bool = True
) -> None:
    """Move messages by their receipts; with `keep`, receipts that moved none wait."""
    now = timezone.now()
    by_status: dict[DeliveryStatus, list[StatusUpdate]] = defaultdict(list)
    for event in events:
        by_status[event.status].append(event)
    matched: set[str] = set()
    for status, group in by_status.items():
        by_pid = {e.provider_id: e for e in group}
        rows = list(
            Message.objects.filter(
                channel=channel,
                direction=Direction.OUT,
                provider_id__in=list(by_pid),
                status__in=RECEIPT_MOVES[status],
            )
            .select_for_update()  # two deliveries of one receipt: the second sees the first
            .values_list("id", "provider_id")
        )
        matched.update(pid for _, pid in rows)
        if not rows:
            continue
        ids = [r[0] for r in rows]
        stamp = {RECEIPT_STAMP[status]: now}
        if status is DeliveryStatus.FAILED:
            # Failures carry their own code and reason: one update per distinct reason.
            reasons: dict[tuple[str, str], list[uuid.UUID]] = defaultdict(list)
            for message_id, pid in rows:
                event = by_pid[pid]
                reasons[(event.error_code or "undelivered", event.reason)].append(message_id)
            for (code, reason), message_ids in reasons.items():
                Message.objects.filter(id__in=message_ids).update(
                    status=Status.FAILED, error_code=code, error_reason=reason, **stamp
                )
        else:
            Message.objects.filter(id__in=ids).update(status=Status(status.value), **stamp)
        insert_rows(
            MessageTransition,
            ("message_id", "status", "at", "code", "reason"),
            (
                (message_id, status.value, now, by_pid[pid].error_code, by_pid[pid].reason)
                for message_id, pid in rows
            ),
        )
        report.statuses += len(rows)
    unmatched = [e for e in events if e.provider_id not in matched]
    if unmatched and keep:
        _keep_early_receipts(channel, unmatched, now, report)


def _keep_early_receipts(
    channel: Channel, events: Sequence[StatusUpdate], now: dt.datetime, report: StoreReport
) -> None:
    """Receipts that moved no message wait: their message may not have its id yet.

    The dispatcher may record these ids while we store them: whoever commits last sees
    the other's rows, so we look once more after our commit. Receipts for messages that
    do have the id (a repeat, or a message already past that state) are cleared then.
    """
    report.unmatched += len(events)
    PendingReceipt.objects.bulk_create(
        PendingReceipt(
            channel=channel,
            provider_id=e.provider_id,
            status=e.status,
            error_code=e.error_code,
            reason=e.reason,
            received_at=now,
        )
        for e in events
    )
    pids = [e.provider_id for e in events]
    transaction.on_commit(lambda: pending_receipts_apply(channel=channel, provider_ids=pids))


def pending_receipts_apply(*, channel: Channel, provider_ids: Sequence[str] | None = None) -> int:
    """Apply receipts that came before their message's provider id was recorded."""
    pending = PendingReceipt.objects.filter(channel=channel)
    if provider_ids is not None:
        pending = pending.filter(provider_id__in=provider_ids)
    rows = list(pending.order_by("received_at", "id"))
    if not rows:
        return 0
    recorded = set(
        Message.objects.filter(
            channel=channel, provider_id__in=[r.provider_id for r in rows]
        ).values_list("provider_id", flat=True)
    )
    ready = [r for r in rows if r.provider_id in recorded]
    if not ready:
        return 0
    report = StoreReport()
    with transaction.atomic():
        # In arrival order ("sent" before "delivered"), a run of one status at a time.
        for _, run in groupby(ready, key=lambda r: r.status):
            events = [
                StatusUpdate(r.provider_id, DeliveryStatus(r.status), r.error_code, r.reason)
                for r in run
            ]
            _apply_statuses(channel, events, report, keep=False)
        PendingReceipt.objects.filter(id__in=[r.id for r in ready]).delete()
    return len(ready)


RoutedEvent = InboundMessage | ChannelEvent


def _digits(address: str) -> str:
    return "".join(ch for ch in address if ch.isdigit()) or address.strip().lower()


def _route(channel: Channel, events: Sequence[RoutedEvent]) -> dict[Channel, list[RoutedEvent]]:
    """Which channel each event is for, by the number that was texted or called.

    A provider account may point several numbers at one webhook: an event for another
    number of the same provider in the same workspace goes to that number's channel.
    Never across workspaces: the signature only vouches for this channel's account.
    """
    routes: dict[Channel, list[RoutedEvent]] = defaultdict(list)
    own = _digits(channel.address)
    others = {e.recipient for e in events if e.recipient and _digits(e.recipient) != own}
    siblings: dict[str, Channel] = {}
    if others:
        for sibling in Channel.objects.select_related("workspace").filter(
            workspace_id=channel.workspace_id, provider=channel.provider
        ):
            siblings.setdefault(_digits(sibling.address), sibling)
    for event in events:
        target = siblings.get(_digits(event.recipient), channel) if event.recipient else channel
        routes[target].append(event)
    return routes


def events_store(*, channel: Channel, events: Sequence[Event]) -> StoreReport:
    """Store a provider's events for a channel in one transaction."""
    report = StoreReport()
    inbound = [e for e in events if isinstance(e, InboundMessage)]
    statuses = [e for e in events if isinstance(e, StatusUpdate)]
    others = [e for e in events if isinstance(e, ChannelEvent)]
    with transaction.atomic():
        for target, routed in _route(channel, inbound).items():
            _store_inbound(target, routed, report)  # type: ignore[arg-type]
        if statuses:
            _apply_statuses(channel, statuses, report)
        report.channel_events = len(others)
        for target, routed in _route(channel, others).items():
            for event_step in CHANNEL_EVENT_STEPS:
                event_step(target, routed)  # type: ignore[arg-type]
        if report.received:
            received = list(report.received)
            for step in INBOUND_STEPS:
                step(received)
            for handler in INBOUND_HANDLERS:
                transaction.on_commit(lambda h=handler: h(received))  # type: ignore[misc]
    if report.unmatched:
        log.info("channel %s: %d receipts matched no message", channel.id, report.unmatched)
    return report


def received_at(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
