"""The simulated carrier network (SANDBOX: no real message leaves this machine).

It behaves like a carrier seen from outside: a submit gets an id or a refusal, delivery
receipts come back later as signed webhooks, a customer's text comes in as a signed
webhook. State is in the database so the web process and worker processes see one network.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import secrets
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from comptoir.channels.models import Channel
from comptoir.core.bulk import insert_objects
from comptoir.providers.base import (
    ChannelConfig,
    HookResult,
    Outcome,
    OutgoingMessage,
    SendResult,
    VoiceCall,
    WebhookRequest,
)
from comptoir.providers.sandbox.type import SIGNATURE_HEADER, sign
from comptoir.sandbox.models import CarrierMessage

RECEIPTS_FLAG = "comptoir.sandbox.receipts"
VOICE = "voice"
RECEIPT_FIELDS = (
    "id",
    "channel_uuid",
    "provider_id",
    "fate",
    "error_code",
    "medium",
    "reference",
    "recipient",
    "sender",
)


def _new_id() -> str:
    return "SB" + secrets.token_hex(12)


def _accepted_now(channel: ChannelConfig, wanted: int) -> int:
    limit = int(channel.config.get("throttle_per_second") or 0)
    if not limit:
        return wanted
    since = timezone.now() - dt.timedelta(seconds=1)
    recent = CarrierMessage.objects.filter(
        channel_uuid=channel.uuid, direction=CarrierMessage.MT, submitted_at__gte=since
    ).count()
    return max(0, min(wanted, limit - recent))


def submit(channel: ChannelConfig, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
    """Accept messages into the network; a reference seen before returns its first id."""
    now = timezone.now()
    delay = float(channel.config.get("receipt_delay", 1.0) or 0)
    fail_rate = float(channel.config.get("fail_rate", 0) or 0)
    accepted = _accepted_now(channel, len(messages))
    rows = [
        CarrierMessage(
            channel_uuid=channel.uuid,
            direction=CarrierMessage.MT,
            reference=m.reference,
            provider_id=_new_id(),
            sender=channel.address,
            recipient=m.to,
            body=m.body,
            segments=m.segments,
            submitted_at=now,
            fate="failed" if failing else "delivered",
            error_code="unreachable" if failing else "",
            receipt_due_at=now + dt.timedelta(seconds=delay),
        )
        for m, failing in zip(
            messages[:accepted],
            (bool(fail_rate) and random.random() < fail_rate for _ in messages),
            strict=False,
        )
    ]
    with transaction.atomic():
        insert_objects(rows, ignore_conflicts=True)
        ids = dict(
            CarrierMessage.objects.filter(
                channel_uuid=channel.uuid, reference__in=[r.reference for r in rows]
            )
            .exclude(reference="")  # lets the planner use the partial unique index
            .values_list("reference", "provider_id")
        )
    if rows:
        transaction.on_commit(lambda: schedule_receipts(delay))
    results = [SendResult.sent(ids[m.reference]) for m in messages[:accepted]]
    results += [
        SendResult(
            Outcome.THROTTLED,
            error_code="throttled",
            reason="The sandbox network is over its per-second limit.",
            retry_after=1.0,
        )
        for _ in messages[accepted:]
    ]
    return results


def schedule_receipts(delay: float) -> None:
    """Ask for a receipt run in `delay` seconds unless one is pending that comes no later."""
    from comptoir.sandbox.tasks import receipts_task

    now = time.time()
    eta = now + delay
    if not HUEY.put_if_empty(RECEIPTS_FLAG, eta):
        pending = HUEY.get(RECEIPTS_FLAG, peek=True)
        # A pending run that is due no later (and not long overdue, i.e. lost) covers this one.
        if isinstance(pending, float) and now - 30 < pending <= eta + 0.05:
            return
        HUEY.put(RECEIPTS_FLAG, eta)
    if delay > 0:
        receipts_task.schedule(delay=delay)
    else:
        receipts_task()


def _signed(channel: Channel, payload: object, action: str) -> WebhookRequest:
    body = json.dumps(payload).encode()
    secret = channel.as_config().secrets.get("webhook_secret", "")
    return WebhookRequest(
        method="POST",
        url=channel.hook_url(action),
        headers={"content-type": "application/json", SIGNATURE_HEADER: sign(secret, body)},
        body=body,
        form={},
        query={},
    )


def _call_hook(channel: Channel, action: str, payload: object) -> HookResult:
    # Imported here: the carrier calls Comptoir the way a provider's servers would.
    from comptoir.channels.hooks import hook_handle

    return hook_handle(channel=channel, action=action, request=_signed(channel, payload, action))


def deliver_receipts(*, limit: int = 5000) -> tuple[int, dt.datetime | None]:
    """Send the receipts that are due; returns how many, and when the next one is due."""
    now = timezone.now()
    sent = 0
    while True:
        with transaction.atomic():
            due = list(
                CarrierMessage.objects.filter(receipt_sent_at__isnull=True, receipt_due_at__lte=now)
                .select_for_update(skip_locked=True)
                .values(*RECEIPT_FIELDS)[:limit]
            )
            if not due:
                break
            by_channel: dict[uuid.UUID, list[dict[str, str]]] = defaultdict(list)
            calls: dict[uuid.UUID, list[dict[str, str]]] = defaultdict(list)
            for row in due:
                if row["medium"] == VOICE:
                    # Nobody picked up before the ring timeout (or the call failed).
                    calls[row["channel_uuid"]].append(_call_end(row, row["fate"]))
                    continue
                by_channel[row["channel_uuid"]].append(
                    {
                        "id": row["provider_id"],
                        "status": row["fate"],
                        "error_code": row["error_code"] if row["fate"] == "failed" else "",
                        "reason": "The handset could not be reached (simulated)."
                        if row["fate"] == "failed"
                        else "",
                    }
                )
            channels = Channel.objects.select_related("workspace").in_bulk(
                list(by_channel) + list(calls)
            )
            for channel_uuid, receipts in by_channel.items():
                channel = channels.get(channel_uuid)
                if channel is not None:
                    _call_hook(channel, "status", receipts)
            for channel_uuid, ends in calls.items():
                channel = channels.get(channel_uuid)
                if channel is not None:
                    _call_hook(channel, "call-status", ends)
            CarrierMessage.objects.filter(id__in=[r["id"] for r in due]).update(receipt_sent_at=now)
            CarrierMessage.objects.filter(
                id__in=[r["id"] for r in due if r["medium"] == VOICE]
            ).update(call_state=CarrierMessage.ENDED)
            sent += len(due)
    pending = CarrierMessage.objects.filter(receipt_sent_at__isnull=True).aggregate(
        next=Min("receipt_due_at")
    )["next"]
    return sent, pending


def place_call(channel: ChannelConfig, call: VoiceCall) -> SendResult:
    """A call to a simulated handset: it rings until answered, declined, or the timeout
    (then the network reports no-answer). A reference seen before returns its first id."""
    now = timezone.now()
    failing = random.random() < float(channel.config.get("fail_rate", 0) or 0)
    row = CarrierMessage(
        channel_uuid=channel.uuid,
        direction=CarrierMessage.MT,
        medium=VOICE,
        reference=call.reference,
        provider_id=_new_id(),
        sender=call.sender or channel.address,
        recipient=call.to,
        body=call.say_text,
        segments=1,
        submitted_at=now,
        fate="failed" if failing else "no-answer",
        call_state=CarrierMessage.ENDED if failing else CarrierMessage.RINGING,
        gather_digits=call.gather_digits,
        receipt_due_at=now + dt.timedelta(seconds=1 if failing else call.timeout),
    )
    with transaction.atomic():
        insert_objects([row], ignore_conflicts=True)
        provider_id = (
            CarrierMessage.objects.filter(channel_uuid=channel.uuid, reference=call.reference)
            .exclude(reference="")
            .values_list("provider_id", flat=True)
            .get()
        )
    delay = (row.receipt_due_at - now).total_seconds()  # type: ignore[operator]
    transaction.on_commit(lambda: schedule_receipts(delay))
    return SendResult.sent(provider_id)


def _call_end(row: dict[str, str], status: str) -> dict[str, str]:
    return {
        "id": row["provider_id"],
        "ref": row["reference"],
        "status": status,
        "from": row["recipient"],  # the customer, as on every channel event
        "to": row["sender"],
    }


def _ringing(channel: Channel, call_id: str, states: tuple[str, ...]) -> dict[str, Any] | None:
    """Take the call out of the timeout's hands (locked): None when it is over already."""
    row = (
        CarrierMessage.objects.filter(
            channel_uuid=channel.id, provider_id=call_id, medium=VOICE, call_state__in=states
        )
        .select_for_update()
        .values(*RECEIPT_FIELDS, "gather_digits", "call_state")
        .first()
    )
    if row is not None:
        CarrierMessage.objects.filter(id=row["id"]).update(receipt_sent_at=timezone.now())
    return row


def handset_answers(*, channel: Channel, call_id: str) -> bool:
    """The simulated customer picks up: the text is read; a call that listens for no key
    ends there (completed). False when the call is no longer ringing."""
    with transaction.atomic():
        row = _ringing(channel, call_id, (CarrierMessage.RINGING,))
        if row is None:
            return False
        listening = bool(row["gather_digits"])
        state = CarrierMessage.ANSWERED if listening else CarrierMessage.ENDED
        CarrierMessage.objects.filter(id=row["id"]).update(call_state=state)
    if not listening:
        _call_hook(channel, "call-status", [_call_end(row, "completed")])
    return True


def handset_presses(*, channel: Channel, call_id: str, digits: str) -> bool:
    """The simulated customer presses keys on an answered call; the call then ends."""
    with transaction.atomic():
        row = _ringing(channel, call_id, (CarrierMessage.ANSWERED,))
        if row is None:
            return False
        CarrierMessage.objects.filter(id=row["id"]).update(
            call_state=CarrierMessage.ENDED, digits=digits
        )
    _call_hook(
        channel,
        "gather",
        {"id": row["provider_id"], "ref": row["reference"], "digits": digits,
         "from": row["recipient"], "to": row["sender"]},
    )  # fmt: skip
    _call_hook(channel, "call-status", [_call_end(row, "completed")])
    return True


def handset_hangs_up(*, channel: Channel, call_id: str) -> bool:
    """Declined while ringing (busy), or hung up after listening (completed)."""
    with transaction.atomic():
        row = _ringing(channel, call_id, (CarrierMessage.RINGING, CarrierMessage.ANSWERED))
        if row is None:
            return False
        answered = row["call_state"] == CarrierMessage.ANSWERED
        CarrierMessage.objects.filter(id=row["id"]).update(call_state=CarrierMessage.ENDED)
    _call_hook(channel, "call-status", [_call_end(row, "completed" if answered else "busy")])
    return True


def customer_texts(*, channel: Channel, sender: str, text: str) -> HookResult:
    """A simulated handset texts the shop: recorded on the network, then the shop's webhook."""
    provider_id = _new_id()
    CarrierMessage.objects.create(
        channel_uuid=channel.id,
        direction=CarrierMessage.MO,
        provider_id=provider_id,
        sender=sender,
        recipient=channel.address,
        body=text,
        submitted_at=timezone.now(),
    )
    payload = {"id": provider_id, "from": sender, "to": channel.address, "text": text}
    return _call_hook(channel, "receive", payload)


def customer_calls(*, channel: Channel, caller: str, outcome: str) -> HookResult:
    """A simulated handset calls the shop's line; the network reports how the call ended."""
    payload = {"id": _new_id(), "from": caller, "to": channel.address, "status": outcome}
    return _call_hook(channel, "call", payload)


def handset_thread(*, channel: Channel, number: str, limit: int = 200) -> list[CarrierMessage]:
    """What one simulated handset sent to and received from the channel, oldest first."""
    to_handset = Q(direction=CarrierMessage.MT, recipient=number)
    from_handset = Q(direction=CarrierMessage.MO, sender=number)
    rows = (
        CarrierMessage.objects.filter(channel_uuid=channel.id)
        .filter(to_handset | from_handset)
        .order_by("-submitted_at", "-id")[:limit]
    )
    return list(reversed(rows))
