"""Answers to appointment reminders: `C` confirms, `A` cancels, in the storing transaction.

An inbound step (see comptoir.messaging.inbound), after the compliance keywords and
before the inbox files the messages. For the whole batch it costs a few queries per
workspace: the contacts' latest reminders, the appointments updated, the answers queued,
the webhooks recorded. Opt-out words come first: a text the compliance step marked as
an opt-out (STOP, and CANCEL where English keywords apply) is never an answer here.
Anything that is not clearly an answer is left alone, for the inbox.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.utils import formats, timezone, translation

from comptoir.automations.models import (
    Appointment,
    AppointmentStatus,
    DateAttribute,
    RunStatus,
    ScheduledRun,
    TriggerType,
)
from comptoir.automations.outcomes import appointment_payload
from comptoir.automations.planning import contact_tz
from comptoir.compliance.keywords import normalize
from comptoir.messaging.awaiting import awaiting_filter, questions_latest
from comptoir.messaging.models import Message, Purpose
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.webhooks.services import webhooks_emit

# A reminder is answered within this long after it was sent.
REPLY_WINDOW = dt.timedelta(hours=48)
REPLY_KIND = "appointment_reply"
AUTOMATION_KIND = "automation"  # the reminders' kind (firing.MESSAGE_KIND)
ANSWER_KIND = "appointment_answer"
OPT_OUT_KIND = "keyword_opt_out"
CONFIRM = frozenset({"c", "oui", "yes", "confirmer", "confirme", "confirm"})
CANCEL = frozenset({"a", "annuler", "annule", "cancel"})
# Words that may follow the answer ("C merci", "oui svp"); anything else is a sentence.
COURTESY = frozenset({"merci", "svp", "stp", "thanks", "thank", "you", "please", "bien"})

ANSWERS = {
    "fr": {
        "confirmed": "{shop} : merci, votre rendez-vous du {date} à {time} est confirmé.",
        "cancelled": "{shop} : c'est noté, votre rendez-vous du {date} à {time} est annulé. "
        "Appelez-nous pour en fixer un autre.",
    },
    "en": {
        "confirmed": "{shop}: thank you, your appointment on {date} at {time} is confirmed.",
        "cancelled": "{shop}: noted, your appointment on {date} at {time} is cancelled. "
        "Call us to book another one.",
    },
}


def answer_of(text: str) -> str | None:
    """ "confirm", "cancel", or None when the text is not clearly one of them."""
    words = normalize(text).split()
    if not words or any(w not in COURTESY for w in words[1:]):
        return None
    if words[0] in CONFIRM:
        return "confirm"
    if words[0] in CANCEL:
        return "cancel"
    return None


def _reminded(workspace_id: Any, contact_ids: set[Any], now: dt.datetime) -> dict[Any, Appointment]:
    """Each contact's appointment whose reminder went out last, within the window, unless
    another question (a waitlist offer, an alert…) went to them after it (two queries)."""
    runs = (
        ScheduledRun.objects.filter(
            workspace_id=workspace_id,
            contact_id__in=contact_ids,
            status=RunStatus.SENT,
            fired_at__gte=now - REPLY_WINDOW,
            rule__trigger_type=TriggerType.DATE,
            rule__trigger=DateAttribute.APPOINTMENT_START,
            appointment__status__in=(AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED),
            appointment__starts_at__gt=now,
        )
        .select_related("appointment", "appointment__contact")
        .order_by("-fired_at")
    )
    found: dict[Any, Appointment] = {}
    fired: dict[Any, dt.datetime] = {}
    for run in runs:
        assert run.appointment is not None and run.fired_at is not None
        found.setdefault(run.contact_id, run.appointment)
        fired.setdefault(run.contact_id, run.fired_at)
    later = questions_latest(
        workspace_id, set(found), since=now - REPLY_WINDOW, besides={AUTOMATION_KIND}
    )
    return {c: a for c, a in found.items() if not (c in later and later[c] > fired[c])}


def _answer(message: Message, appointment: Appointment, outcome: str) -> SendRequest:
    workspace = message.workspace
    contact = appointment.contact
    language = contact.language if contact.language in ANSWERS else workspace.language
    texts = ANSWERS.get(language, ANSWERS["en"])
    local = appointment.starts_at.astimezone(contact_tz(contact, workspace))
    with translation.override(language):
        date = formats.date_format(local, "DATE_FORMAT")
        time = formats.time_format(local, "TIME_FORMAT")
    return SendRequest(
        to=str(contact.id),
        body=texts[outcome].format(shop=workspace.name, date=date, time=time),
        purpose=Purpose.TRANSACTIONAL,
        idempotency_key=f"{ANSWER_KIND}:{message.id}",  # a replayed webhook answers once
        kind=ANSWER_KIND,
        channel=str(message.channel_id),
    )


def appointment_replies_apply(messages: Sequence[Message]) -> None:
    """Inbound step: act on answers to reminders, set-based per workspace."""
    by_workspace: dict[Any, list[tuple[Message, str]]] = defaultdict(list)
    now = timezone.now()
    for message in awaiting_filter(messages, now):
        if message.contact_id is None or message.kind == OPT_OUT_KIND:
            continue
        outcome = answer_of(message.body)
        if outcome is not None:
            by_workspace[message.workspace_id].append((message, outcome))
    for workspace_id, candidates in by_workspace.items():
        reminded = _reminded(workspace_id, {m.contact_id for m, _ in candidates}, now)
        acted: list[tuple[Message, Appointment, str]] = []
        for message, outcome in candidates:
            appointment = reminded.get(message.contact_id)
            if appointment is None:
                continue  # no reminder to answer: a "oui" for the inbox
            if outcome == "cancel" and appointment.status == AppointmentStatus.CANCELLED:
                continue  # a second "A" in the same batch: the first one did it
            appointment.status = (
                AppointmentStatus.CONFIRMED if outcome == "confirm" else AppointmentStatus.CANCELLED
            )
            acted.append((message, appointment, outcome))
        if acted:
            _apply(acted)


def _apply(acted: list[tuple[Message, Appointment, str]]) -> None:
    """Record a workspace's answers: appointments, message kinds, answers, webhooks."""
    workspace = acted[0][0].workspace
    for status in (AppointmentStatus.CONFIRMED, AppointmentStatus.CANCELLED):
        ids = {a.id for _, a, _o in acted if a.status == status}
        if ids:
            Appointment.objects.filter(id__in=ids).update(status=status, updated_at=timezone.now())
    cancelled = {a.id for _m, a, _o in acted if a.status == AppointmentStatus.CANCELLED}
    if cancelled:
        now = timezone.now()
        ScheduledRun.objects.filter(appointment_id__in=cancelled, status=RunStatus.PENDING).update(
            status=RunStatus.CANCELLED, reason="cancelled_by_reply", fired_at=now, updated_at=now
        )
    Message.objects.filter(id__in=[m.id for m, _a, _o in acted]).update(kind=REPLY_KIND)
    for message, _a, _o in acted:
        message.kind = REPLY_KIND
    messages_send(
        workspace=workspace,
        requests=[
            _answer(m, a, "confirmed" if o == "confirm" else "cancelled") for m, a, o in acted
        ],
    )
    webhooks_emit(
        workspace,
        [
            (
                "appointment.confirmed" if o == "confirm" else "appointment.cancelled",
                appointment_payload(a, source="reply", message_id=m.id),
            )
            for m, a, o in acted
        ],
    )
