"""Customers' answers to alerts: a texted `1` / `2` (an inbound step) or a key pressed
during the alert's call (a channel-event step), both in the storing transaction.

The text step runs after the compliance keywords (STOP opts out and is never an answer)
and the appointment replies, before the inbox files the messages: `1` is marked handled
(`alert_ack`), `2` stays a message for staff (`alert_report`) on a conversation put on
top. For a batch: one query per workspace for the open alerts of the senders.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from comptoir.alerts.models import ANSWERABLE, Alert, AlertStatus
from comptoir.alerts.services import ALERT_KIND, Answer, answers_record
from comptoir.channels.models import Channel
from comptoir.compliance.keywords import normalize
from comptoir.messaging.awaiting import awaiting_filter
from comptoir.messaging.models import Message
from comptoir.providers.base import ChannelEvent

ACK_KIND = "alert_ack"
REPORT_KIND = "alert_report"
KEYPRESS = "call_keypress"
# An alert is answered within this long after it started.
ANSWER_WINDOW = dt.timedelta(hours=48)
CONFIRM = frozenset({"1", "ok", "oui", "yes", "confirme", "confirmer", "confirm"})
REPORT = frozenset({"2", "probleme", "problemes", "problem", "souci"})
COURTESY = frozenset({"merci", "svp", "stp", "thanks", "thank", "you", "please", "recu"})
KEYS = {"1": AlertStatus.ACKNOWLEDGED, "2": AlertStatus.REPORTED}


def outcome_of(text: str) -> str | None:
    """ "acknowledged", "reported", or None when the text is not clearly one of them."""
    words = normalize(text).split()
    if not words or any(w not in COURTESY for w in words[1:]):
        return None
    if words[0] in CONFIRM:
        return AlertStatus.ACKNOWLEDGED
    if words[0] in REPORT:
        return AlertStatus.REPORTED
    return None


def _answerable(workspace_id: Any, contact_ids: set[Any], now: dt.datetime) -> dict[Any, Alert]:
    """Each contact's newest alert still waiting for an answer, locked (one query)."""
    alerts = (
        Alert.objects.filter(
            workspace_id=workspace_id,
            contact_id__in=contact_ids,
            status__in=ANSWERABLE,
            attempts__gte=1,
            created_at__gte=now - ANSWER_WINDOW,
        )
        .select_related("contact", "workspace", "escalate_team", "policy__rule")
        .select_for_update(of=("self",))
        .order_by("-created_at")
    )
    found: dict[Any, Alert] = {}
    for alert in alerts:
        found.setdefault(alert.contact_id, alert)
    return found


def alert_replies_apply(messages: Sequence[Message]) -> None:
    """Inbound step: texted answers to alerts, set-based per workspace."""
    by_workspace: dict[Any, list[tuple[Message, str]]] = defaultdict(list)
    now = timezone.now()
    for message in awaiting_filter(messages, now):  # only customers sent something to answer
        if message.contact_id is None or message.kind:  # STOP, a "C" for a reminder…
            continue
        outcome = outcome_of(message.body)
        if outcome is not None:
            by_workspace[message.workspace_id].append((message, outcome))
    for workspace_id, candidates in by_workspace.items():
        alerts = _answerable(workspace_id, {m.contact_id for m, _ in candidates}, now)
        answers: list[Answer] = []
        for message, outcome in candidates:
            alert = alerts.pop(message.contact_id, None)  # a second "1" in the batch: inbox
            if alert is None:
                continue
            message.kind = ACK_KIND if outcome == AlertStatus.ACKNOWLEDGED else REPORT_KIND
            answers.append(Answer(alert, outcome, message.body, "reply", message))
        for kind in (ACK_KIND, REPORT_KIND):
            ids = [a.message.id for a in answers if a.message and a.message.kind == kind]
            if ids:
                Message.objects.filter(id__in=ids).update(kind=kind)
        if answers:
            answers_record(answers, now)


def _uuid(text: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(text))
    except ValueError:
        return None


def alert_keypresses_apply(channel: Channel, events: Sequence[ChannelEvent]) -> None:
    """Channel-event step: `1` / `2` pressed during an alert's call (a few queries)."""
    pressed: dict[uuid.UUID, str] = {}
    for event in events:
        reference = _uuid(event.extra.get("reference", "")) if event.kind == KEYPRESS else None
        digits = str(event.extra.get("digits", "")).strip()
        if reference is not None and digits[:1] in KEYS:
            pressed.setdefault(reference, digits[:1])
    if not pressed:
        return
    keys = dict(
        Message.objects.filter(
            workspace_id=channel.workspace_id, id__in=list(pressed), kind=ALERT_KIND
        ).values_list("id", "idempotency_key")
    )
    wanted: dict[uuid.UUID, tuple[str, uuid.UUID]] = {}
    for message_id, key in keys.items():
        alert_id = _uuid((key or "").split(":")[1]) if (key or "").count(":") == 2 else None
        if alert_id is not None:
            wanted.setdefault(alert_id, (pressed[message_id], message_id))
    alerts = (
        Alert.objects.filter(workspace_id=channel.workspace_id, id__in=list(wanted))
        .filter(status__in=ANSWERABLE)
        .select_related("contact", "workspace", "escalate_team", "policy__rule")
        .select_for_update(of=("self",))
    )
    answers = [Answer(a, KEYS[wanted[a.id][0]], wanted[a.id][0], "keypress") for a in alerts]
    if answers:
        answers_record(answers, timezone.now())
