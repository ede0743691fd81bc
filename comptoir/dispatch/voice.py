"""Voice messages in the dispatcher: placing the call, and what the call's events do.

Placing: a claimed voice message becomes `ProviderType.call(VoiceCall)` with our message
id as the reference; the outcome set is a send's (sent with the provider's call id, retry,
rejected…).

Events (a channel-event step, inside the webhook's storing transaction):
- `call_status` (extra: reference = message id, status): `completed` → delivered;
  no-answer, busy, failed, canceled → failed with that reason (and the failed-message
  steps run: automations try the rule's next channel);
- `call_keypress` (extra: reference, digits): kept as a `CallEvent` of the message and
  shown in the customer's conversation.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.channels.models import Channel
from comptoir.core.bulk import insert_objects, insert_rows
from comptoir.messaging.failures import messages_failed
from comptoir.messaging.models import (
    TRANSITION_COLUMNS,
    CallEvent,
    Direction,
    Medium,
    Message,
    MessageTransition,
    Status,
)
from comptoir.providers.base import (
    ChannelConfig,
    ChannelEvent,
    Outcome,
    ProviderType,
    SendResult,
    VoiceCall,
)

CALL_STATUS = "call_status"
CALL_KEYPRESS = "call_keypress"
# A call's end as providers report it → what it makes of the message.
CALL_ENDS = {
    "completed": Status.DELIVERED,
    "no-answer": Status.FAILED,
    "busy": Status.FAILED,
    "failed": Status.FAILED,
    "canceled": Status.FAILED,
}
MOVABLE = (Status.SENDING, Status.SENT, Status.UNKNOWN)


def _end_reason(status: str) -> str:
    reasons = {
        "no-answer": _("Nobody answered the call."),
        "busy": _("The line was busy."),
        "failed": _("The call could not be connected."),
        "canceled": _("The call was cancelled before it was answered."),
    }
    return reasons.get(status, status)


def call_place(
    ptype: ProviderType, config: ChannelConfig, row: dict[str, Any], language: str
) -> SendResult:
    """Place one claimed voice message's call (rejected when the provider cannot call)."""
    if not ptype.voice:
        return SendResult(
            Outcome.REJECTED,
            error_code="no_voice",
            reason=_("This channel's provider cannot place calls."),
        )
    call = VoiceCall(
        reference=str(row["id"]),
        to=row["address"],
        sender=config.address,
        say_text=row["body"],
        language=row.get("contact__language") or language,
        gather_digits=row.get("gather_digits") or 0,
    )
    return ptype.call(config, call)


def _reference(event: ChannelEvent) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(event.extra.get("reference") or ""))
    except ValueError:
        return None


def call_events_apply(channel: Channel, events: Sequence[ChannelEvent]) -> None:
    """Channel-event step: move voice messages by their calls' ends, keep key presses."""
    ours = [e for e in events if e.kind in (CALL_STATUS, CALL_KEYPRESS) and _reference(e)]
    if not ours:
        return
    refs = {ref for e in ours if (ref := _reference(e)) is not None}
    messages: dict[uuid.UUID, dict[str, Any]] = {
        m["id"]: dict(m)
        for m in Message.objects.filter(
            id__in=refs,
            workspace_id=channel.workspace_id,  # a signature vouches for this workspace only
            direction=Direction.OUT,
            medium=Medium.VOICE,
        )
        .select_for_update()
        .values("id", "status", "contact_id")
    }
    now = timezone.now()
    found = [(e, messages[ref]) for e in ours if (ref := _reference(e)) in messages]
    insert_objects(
        [
            CallEvent(
                message_id=m["id"],
                kind=CallEvent.STATUS if e.kind == CALL_STATUS else CallEvent.KEYPRESS,
                status=str(e.extra.get("status") or "")[:16],
                digits=str(e.extra.get("digits") or "")[:32],
                provider_id=e.provider_id or f"{e.kind}:{m['id']}",
                at=now,
            )
            for e, m in found
        ],
        ignore_conflicts=True,
    )
    _statuses_apply([(e, m) for e, m in found if e.kind == CALL_STATUS], now)
    for event, message in found:
        if event.kind == CALL_KEYPRESS and message["contact_id"]:
            _keypress_show(channel, event, message, now)


def _statuses_apply(found: Sequence[tuple[ChannelEvent, dict[str, Any]]], now: Any) -> None:
    transitions = []
    failed = []
    for event, message in found:
        status = str(event.extra.get("status") or "")
        target = CALL_ENDS.get(status)
        if target is None or message["status"] not in MOVABLE:
            continue  # progress, or a repeat for a message already settled
        code = "" if target == Status.DELIVERED else status.replace("-", "_")
        reason = "" if target == Status.DELIVERED else _end_reason(status)
        stamp = "delivered_at" if target == Status.DELIVERED else "failed_at"
        Message.objects.filter(id=message["id"]).filter(Q(status__in=MOVABLE)).update(
            status=target, error_code=code, error_reason=reason, **{stamp: now}
        )
        message["status"] = target
        transitions.append((message["id"], target, now, code, reason))
        if target == Status.FAILED:
            failed.append(message["id"])
    insert_rows(MessageTransition, TRANSITION_COLUMNS, transitions)
    messages_failed(failed)


def _keypress_show(
    channel: Channel, event: ChannelEvent, message: dict[str, Any], now: Any
) -> None:
    """The keys pressed, in the customer's conversation (once per provider event)."""
    from comptoir.inbox.models import ConversationEvent, EventKind
    from comptoir.inbox.services import conversation_for

    conversation = conversation_for(
        channel.workspace, contact=channel.workspace.contacts.get(id=message["contact_id"])
    )
    try:
        with transaction.atomic():
            ConversationEvent.objects.create(
                conversation=conversation,
                kind=EventKind.CALL_ANSWERED,
                channel=channel,
                provider_id=event.provider_id,
                data={
                    "direction": "out",
                    "status": "keypress",
                    "digits": str(event.extra.get("digits") or ""),
                    "message": str(message["id"]),
                },
                at=now,
            )
    except IntegrityError:
        pass  # the same webhook, delivered again


def call_keypresses(*, workspace_id: Any, message_ids: Sequence[Any]) -> dict[Any, list[str]]:
    """Keys pressed during these voice messages' calls, oldest first, by message id."""
    out: dict[Any, list[str]] = {}
    for message_id, digits in (
        CallEvent.objects.filter(
            message__workspace_id=workspace_id, message_id__in=message_ids, kind=CallEvent.KEYPRESS
        )
        .order_by("at", "id")
        .values_list("message_id", "digits")
    ):
        out.setdefault(message_id, []).append(digits)
    return out


def register() -> None:
    """Called once from the dispatch app's ready()."""
    from comptoir.messaging.inbound import channel_event_step_add

    channel_event_step_add(call_events_apply)
