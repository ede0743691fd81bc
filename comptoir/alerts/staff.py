"""Alerting staff: a text to the alert's team and staff numbers (through the outbox), and
the customer's conversation put on top of the inbox with a note saying why."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction

from comptoir.alerts.models import Alert
from comptoir.alerts.texts import OUTCOME_WORDS, staff_text, urgent_label
from comptoir.core.errors import ComptoirError
from comptoir.inbox.models import (
    FLAG_LENGTH,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
)
from comptoir.inbox.services import conversation_for, inbox_settings, rescore, team_broadcast
from comptoir.messaging.models import Purpose
from comptoir.messaging.outbox import SendRequest, messages_send

log = logging.getLogger(__name__)

STAFF_KIND = "alert_staff"


def _text_staff(alert: Alert, body: str, outcome: str) -> int:
    """Text the team's members and the staff numbers, once per alert and outcome."""
    sent = 0
    team = alert.escalate_team
    if team is not None:
        try:
            with transaction.atomic():
                sent += len(
                    team_broadcast(team=team, body=body, token=f"alert-{alert.id}-{outcome}")
                )
        except ComptoirError as exc:  # an empty team: the inbox still shows the alert
            log.warning("alert %s: team %s not texted: %s", alert.id, team.id, exc.message)
    requests = [
        SendRequest(
            to=number,
            body=body,
            purpose=Purpose.TRANSACTIONAL,  # work messages to employees
            idempotency_key=f"alert:{alert.id}:staff:{outcome}:{number}",
            kind=STAFF_KIND,
        )
        for number in alert.escalate_numbers
    ]
    if requests:
        try:
            with transaction.atomic():
                sent += len(messages_send(workspace=alert.workspace, requests=requests))
        except ComptoirError as exc:
            log.warning("alert %s: staff numbers not texted: %s", alert.id, exc.message)
    return sent


def _flag_reason(alert: Alert, outcome: str) -> str:
    """The conversation's flag, in the shop's language: "Alerte : sans réponse"."""
    language = alert.workspace.language if alert.workspace.language in OUTCOME_WORDS else "en"
    colon = " : " if language == "fr" else ": "
    return f"{urgent_label(alert).capitalize()}{colon}{OUTCOME_WORDS[language][outcome]}"


def _flag_conversation(alert: Alert, outcome: str, note: str, now: dt.datetime) -> Conversation:
    """The customer's conversation: open, flagged with the alert's outcome, and a note."""
    found = conversation_for(alert.workspace, contact=alert.contact)
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("contact", "workspace")
        .get(id=found.id)
    )
    inbox_settings(alert.workspace)  # created here if new, not inside the inbox's step
    conversation.status = ConversationStatus.OPEN
    conversation.flag = _flag_reason(alert, outcome)[:FLAG_LENGTH]  # the latest outcome wins
    conversation.waiting_since = conversation.waiting_since or now
    rescore(conversation)
    conversation.save()
    ConversationEvent.objects.create(
        conversation=conversation,
        kind=EventKind.NOTE,
        body=note,
        data={"alert_id": str(alert.id), "status": alert.status},
        at=now,
    )
    return conversation


def staff_alert(alert: Alert, outcome: str, now: dt.datetime) -> int:
    """Tell staff an alert needs them ("escalated" or "reported"); texts sent, counted."""
    body = staff_text(alert, outcome)
    _flag_conversation(alert, outcome, body, now)
    return _text_staff(alert, body, outcome)


def staff_note(alert: Alert, note: str, now: dt.datetime) -> None:
    """A note in the customer's conversation, when there is one (no new conversation)."""
    conversation = Conversation.objects.filter(
        workspace=alert.workspace, contact=alert.contact
    ).first()
    if conversation is not None:
        ConversationEvent.objects.create(
            conversation=conversation,
            kind=EventKind.NOTE,
            body=note,
            data={"alert_id": str(alert.id), "status": alert.status},
            at=now,
        )
