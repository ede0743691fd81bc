"""Storing what providers tell us, whichever provider: one service for every webhook.

Events are stored before the provider gets its HTTP answer, deduplicated by the
provider's id, so a webhook delivered twice stores one message.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact
from comptoir.contacts.phones import Phone, parse_phone
from comptoir.contacts.services import contacts_for_phones
from comptoir.core.bulk import insert_objects, insert_rows
from comptoir.core.errors import ValidationError
from comptoir.core.fetch import param, rows_each
from comptoir.core.ids import uuid7
from comptoir.messaging.encoding import analyze
from comptoir.messaging.models import (
    TRANSITION_COLUMNS,
    Direction,
    Message,
    MessageTransition,
    Purpose,
    Status,
)
from comptoir.messaging.receipts import apply_statuses
from comptoir.providers.base import (
    ChannelEvent,
    Event,
    InboundMessage,
    StatusUpdate,
)

log = logging.getLogger(__name__)

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


def inbound_step_add(step: InboundHandler, *, before: InboundHandler | None = None) -> None:
    """Register a step once (apps' ready() may run twice), before `before` when it is
    registered already (the apps' order puts it there otherwise), else last."""
    if step in INBOUND_STEPS:
        return
    if before is not None and before in INBOUND_STEPS:
        INBOUND_STEPS.insert(INBOUND_STEPS.index(before), step)
    else:
        INBOUND_STEPS.append(step)


def channel_event_step_add(step: ChannelEventStep) -> None:
    if step not in CHANNEL_EVENT_STEPS:
        CHANNEL_EVENT_STEPS.append(step)


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
    return sender_contacts(channel, [sender]).get(sender)


def sender_contacts(channel: Channel, senders: Sequence[str]) -> dict[str, Contact]:
    """The contacts for inbound senders, by sender as written, created as prospects in bulk."""
    phones: dict[str, Phone] = {}
    for sender in senders:
        try:
            phones[sender] = parse_phone(sender, region=channel.workspace.region, field="from")
        except ValidationError:
            continue
    if not phones:
        return {}
    by_e164 = contacts_for_phones(workspace=channel.workspace, phones=phones.values(), fields=())
    return {sender: by_e164[phone.e164] for sender, phone in phones.items()}


def _stored_already(channel: Channel, provider_ids: Sequence[str]) -> set[str]:
    """Which of these provider ids the channel has received already (hand-written: the
    ORM's compiler cost more than the query, at every batch)."""
    if not provider_ids:
        return set()
    channel_id = param(Message, "channel_id", channel.id)
    found = rows_each(
        Message, "provider_id", "channel_id = %s AND direction = %s", [channel_id, Direction.IN],
        "provider_id", list(provider_ids),
    )  # fmt: skip
    return {row[0] for row in found}


Delivered = tuple[StoreReport, InboundMessage]  # a text, and the report of its delivery


def _store_inbound(channel: Channel, deliveries: Sequence[Delivered]) -> None:
    """Insert the texts not stored yet, in bulk (whatever the number of deliveries they
    came in); a provider id already here is a repeat, counted in its delivery's report."""
    ids = [e.provider_id for _, e in deliveries if e.provider_id]
    known = _stored_already(channel, ids)
    fresh: list[Delivered] = []
    for report, event in deliveries:
        if event.provider_id and event.provider_id in known:
            report.duplicates += 1
            continue
        known.add(event.provider_id)
        fresh.append((report, event))
    if not fresh:
        return
    contacts = sender_contacts(channel, [e.sender for _, e in fresh])
    now = timezone.now()
    messages: list[Message] = []
    for _, event in fresh:
        info = analyze(event.body, smart=False)
        messages.append(
            Message(
                id=uuid7(),
                created_at=now,
                updated_at=now,
                workspace=channel.workspace,
                channel=channel,
                contact=contacts.get(event.sender),
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
        )
    # Inserted in provider-id order, so two batches holding the same repeats never deadlock;
    # the steps still see them in the order they came.
    ordered = sorted(messages, key=lambda m: m.provider_id)
    written = {m.id for m in messages}
    if insert_objects(ordered, ignore_conflicts=True) < len(messages):
        # A concurrent delivery of the same webhook won some: keep what we wrote.
        written = set(
            Message.objects.filter(id__in=[m.id for m in messages]).values_list("id", flat=True)
        )
    insert_rows(
        MessageTransition,
        TRANSITION_COLUMNS,
        [(m.id, Status.RECEIVED, now, "", "") for m in messages if m.id in written],
    )
    for (report, _), message in zip(fresh, messages, strict=True):
        if message.id in written:
            report.received.append(message)
        else:
            report.duplicates += 1


RoutedEvent = InboundMessage | ChannelEvent


_NOT_DIGITS = re.compile(r"\D")


def _digits(address: str) -> str:
    return _NOT_DIGITS.sub("", address) or address.strip().lower()


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
    return events_store_many([(channel, events)])[0]


def _one_workspace_object(items: Sequence[tuple[Channel, Sequence[Event]]]) -> None:
    """Channels of one workspace share one Workspace object, and so its cached settings."""
    shared: dict[uuid.UUID, Any] = {}
    for channel, _events in items:
        channel.workspace = shared.setdefault(channel.workspace_id, channel.workspace)


def events_store_many(items: Sequence[tuple[Channel, Sequence[Event]]]) -> list[StoreReport]:
    """Store several deliveries (a channel and its events each) in one transaction.

    The webhook view sends the requests that arrive together through here
    (`comptoir.core.groupcommit`); each gets its own report.
    """
    _one_workspace_object(items)
    received: list[Message] = []
    texts: dict[Any, tuple[Channel, list[Delivered]]] = {}
    with transaction.atomic():
        # Customers' texts first, all deliveries' at once per channel.
        reports = [StoreReport() for _ in items]
        for (channel, events), report in zip(items, reports, strict=True):
            inbound = [e for e in events if isinstance(e, InboundMessage)]
            for target, routed in _route(channel, inbound).items():
                group = texts.setdefault(target.id, (target, []))[1]
                group.extend((report, e) for e in routed)  # type: ignore[misc]
        for target, deliveries in texts.values():
            _store_inbound(target, deliveries)
        for (channel, events), report in zip(items, reports, strict=True):
            statuses = [e for e in events if isinstance(e, StatusUpdate)]
            others = [e for e in events if isinstance(e, ChannelEvent)]
            if statuses:
                apply_statuses(channel, statuses, report)
            report.channel_events = len(others)
            for target, routed in _route(channel, others).items():
                for event_step in CHANNEL_EVENT_STEPS:
                    event_step(target, routed)  # type: ignore[arg-type]
            received.extend(report.received)
        if received:
            for step in INBOUND_STEPS:
                step(received)
            for handler in INBOUND_HANDLERS:
                transaction.on_commit(lambda h=handler: h(received))  # type: ignore[misc]
    for (channel, _events), report in zip(items, reports, strict=True):
        if report.unmatched:
            # Usually early: the provider answered before the dispatcher recorded the send;
            # kept, and applied when it does (pending_receipts_apply).
            unmatched = report.unmatched
            log.debug("channel %s: %d receipts matched no message yet", channel.id, unmatched)
    return reports


def received_at(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
