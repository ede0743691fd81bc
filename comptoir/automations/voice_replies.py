"""Appointment reminders by phone call: 1 confirms, 2 cancels.

A landline customer cannot text `C` or `A`, so a reminder that goes as a call says
"press 1 to confirm, 2 to cancel" in place of the texting instruction, and listens for
one key. The key comes back as a `call_keypress` event (the call's message id as its
reference); this channel-event step acts on it as `replies.py` does on a text: the
appointment confirmed or cancelled with its pending runs, and the shop's webhook. No
text goes back: the number cannot receive one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from comptoir.automations.models import (
    AppointmentStatus,
    DateAttribute,
    RunStatus,
    ScheduledRun,
    TriggerType,
)
from comptoir.automations.outcomes import appointment_payload
from comptoir.channels.models import Channel
from comptoir.providers.base import ChannelEvent
from comptoir.webhooks.services import webhooks_emit

KEYPRESS = "call_keypress"
KEYS = {"1": AppointmentStatus.CONFIRMED, "2": AppointmentStatus.CANCELLED}
# The texting instruction a reminder ends with, and what a call says instead.
SPOKEN = {
    "fr": (r"R[ée]pondez\s+C\b[^.!?]*[.!?]?", "Appuyez sur 1 pour confirmer, sur 2 pour annuler."),
    "en": (r"Reply\s+C\b[^.!?]*[.!?]?", "Press 1 to confirm, 2 to cancel."),
}


def is_reminder(rule: Any) -> bool:
    return bool(
        rule.trigger_type == TriggerType.DATE and rule.trigger == DateAttribute.APPOINTMENT_START
    )


def spoken_reminder(body: str, language: str) -> str:
    """The reminder's text for a call: the texting instruction replaced by the keys."""
    pattern, keys = SPOKEN.get(language, SPOKEN["en"])
    said = re.sub(pattern, "", body, flags=re.IGNORECASE).strip()
    return f"{said} {keys}".strip()


def _reference(event: ChannelEvent) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(event.extra.get("reference") or ""))
    except ValueError:
        return None


def reminder_keys_apply(channel: Channel, events: Sequence[ChannelEvent]) -> None:
    """Channel-event step: a key pressed during a reminder's call answers it (one query
    when the batch has key presses, none otherwise)."""
    pressed: dict[uuid.UUID, str] = {}
    for event in events:
        digits = str(event.extra.get("digits") or "").strip()[:1]
        reference = _reference(event) if event.kind == KEYPRESS else None
        if reference is not None and digits in KEYS:
            pressed[reference] = digits  # the last key pressed counts
    if not pressed:
        return
    now = timezone.now()
    runs = (
        ScheduledRun.objects.filter(
            workspace_id=channel.workspace_id,  # a signature vouches for this workspace only
            message_id__in=list(pressed),
            status=RunStatus.SENT,
            rule__trigger_type=TriggerType.DATE,
            rule__trigger=DateAttribute.APPOINTMENT_START,
            appointment__status__in=(AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED),
            appointment__starts_at__gt=now,
        )
        .select_related("appointment", "appointment__contact")
        .select_for_update(of=("self",))
    )
    acted = []
    for run in runs:
        appointment = run.appointment
        assert appointment is not None and run.message_id is not None
        status = KEYS[pressed[run.message_id]]
        appointment.status = status
        appointment.updated_at = now
        appointment.save(update_fields=["status", "updated_at"])
        if status == AppointmentStatus.CANCELLED:
            ScheduledRun.objects.filter(
                appointment_id=appointment.id, status=RunStatus.PENDING
            ).update(
                status=RunStatus.CANCELLED, reason="cancelled_by_call", fired_at=now, updated_at=now
            )
        acted.append((run, appointment, status))
    if acted:
        webhooks_emit(
            channel.workspace,
            [
                (
                    f"appointment.{status}",
                    appointment_payload(appointment, source="call", message_id=run.message_id),
                )
                for run, appointment, status in acted
            ],
        )


def register() -> None:
    """After the dispatcher's own call-event step (which keeps the key press)."""
    from comptoir.messaging.inbound import channel_event_step_add

    channel_event_step_add(reminder_keys_apply)
