"""Urgent alerts: starting one (from a rule's run or the API), sending its attempts, and
recording the customer's answer. Writes only; the escalation pass is in escalation.py.

Every message to the customer carries the idempotency key `alert:<id>:<attempt>`, in the
transaction that records the attempt, so a crash or a pass run twice never sends twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.alerts.models import OPEN, Alert, AlertMedium, AlertPolicy, AlertStatus
from comptoir.alerts.policies import Escalation, escalation_check
from comptoir.alerts.staff import staff_alert, staff_note
from comptoir.alerts.texts import answer_text, language_of, with_instructions
from comptoir.automations.models import ScheduledRun
from comptoir.contacts.models import Contact
from comptoir.core.errors import ComptoirError, Conflict, NotFound, ValidationError
from comptoir.messaging.models import Medium, Message, Purpose, Status
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.webhooks.services import webhooks_emit
from comptoir.workspaces.models import Workspace

log = logging.getLogger(__name__)

ALERT_KIND = "alert"  # the messages sent to the customer
ANSWER_KIND = "alert_answer"  # the short answer to their 1 or 2
MAX_BODY = 1000
COPIED = (
    "medium",
    "escalate_after_minutes",
    "max_attempts",
    "escalate_team_id",
    "escalate_numbers",
    "staff_message",
)


@dataclass(frozen=True)
class Answer:
    """A customer's answer to an alert: "acknowledged" or "reported"."""

    alert: Alert
    outcome: str
    text: str  # what they typed, or the keys they pressed
    source: str  # "reply" or "keypress"
    message: Message | None = None


def alert_payload(alert: Alert, **extra: Any) -> dict[str, Any]:
    """What webhooks and the API say about an alert."""
    rule = alert.policy.rule if alert.policy_id and alert.policy else None
    return {
        "alert_id": alert.id,
        "external_id": alert.external_id or None,
        "status": alert.status,
        "medium": alert.medium,
        "contact": {"id": alert.contact_id, "phone": alert.contact.phone},
        "rule": {"id": rule.id, "key": rule.key or None, "name": rule.name} if rule else None,
        "run_id": alert.run_id,
        "attempts": alert.attempts,
        "answer": alert.answer or None,
        "answered_at": alert.answered_at,
        "escalated_at": alert.escalated_at,
        "message_ids": alert.message_ids,
        **extra,
    }


def emit(alert: Alert, event_type: str, **extra: Any) -> None:
    webhooks_emit(alert.workspace, [(event_type, alert_payload(alert, **extra))])


def _request(alert: Alert, attempt: int) -> SendRequest:
    voice = alert.medium == AlertMedium.VOICE
    return SendRequest(
        to=str(alert.contact_id),
        body=alert.body,
        purpose=Purpose.TRANSACTIONAL,
        idempotency_key=f"alert:{alert.id}:{attempt}",
        kind=ALERT_KIND,
        medium=Medium.VOICE if voice else Medium.TEXT,
        gather_digits=1 if voice else 0,
    )


def attempt_send(alert: Alert, now: dt.datetime) -> bool:
    """Send the alert's next attempt and plan its check; False when the customer cannot
    be reached (the message refused or blocked): the caller escalates at once."""
    attempt = alert.attempts + 1
    try:
        with transaction.atomic():
            result = messages_send(workspace=alert.workspace, requests=[_request(alert, attempt)])
    except ComptoirError as exc:
        log.warning("alert %s: attempt %d refused: %s", alert.id, attempt, exc.message)
        return False
    message = result[0].message
    if str(message.id) not in alert.message_ids:
        alert.message_ids = [*alert.message_ids, str(message.id)]
    alert.attempts = attempt
    alert.next_check_at = now + dt.timedelta(minutes=alert.escalate_after_minutes)
    return message.status != Status.BLOCKED


def plan_check(moment: dt.datetime | None, *, within: float | None = None) -> None:
    """Wake the escalation pass at `moment` (if it comes `within` seconds), after commit;
    the minute tick is the net under it."""
    if moment is None:
        return
    from comptoir.alerts.tasks import alerts_check_task

    delay = max((moment - timezone.now()).total_seconds(), 0.0) + 0.5
    if within is not None and delay > within:
        return
    transaction.on_commit(lambda: alerts_check_task.schedule(delay=delay), robust=True)


def _start(alert: Alert, now: dt.datetime, first: Message | None) -> None:
    """A new alert's first attempt: `first` already went (a rule's text), else sent here."""
    from comptoir.alerts.escalation import escalate

    if first is not None and alert.medium == AlertMedium.SMS:
        alert.message_ids = [str(first.id)]
        alert.attempts = 1
        alert.next_check_at = now + dt.timedelta(minutes=alert.escalate_after_minutes)
        reached = first.status != Status.BLOCKED
    else:
        reached = attempt_send(alert, now)
    alert.save()
    if not reached:
        escalate(alert, now, reason="unreachable")
    plan_check(alert.next_check_at)


def alerts_from_runs(outcome: str, runs: Sequence[ScheduledRun]) -> None:
    """Automations' runs hook: each run of a rule with an alert policy that sent its
    message starts an alert, in the firing transaction; one whose message compliance
    blocked starts one escalated at once (staff must call). Other skipped runs (past
    appointment, conditions) sent nothing: no alert. One query per batch."""
    if not runs or outcome not in ("reminder.sent", "run.skipped"):
        return
    policies = {
        p.rule_id: p
        for p in AlertPolicy.objects.filter(
            rule_id__in={r.rule_id for r in runs}, ack_required=True
        ).select_related("rule")
    }
    chosen = [r for r in runs if r.rule_id in policies and r.message_id is not None]
    if not chosen:
        return
    messages = Message.objects.in_bulk([r.message_id for r in chosen])
    now = timezone.now()
    for run in chosen:
        policy, message = policies[run.rule_id], messages.get(run.message_id)
        if message is None:
            continue
        alert = Alert(
            workspace=run.workspace,
            contact=run.contact,
            policy=policy,
            run=run,
            body=message.body,
            **{name: getattr(policy, name) for name in COPIED},
        )
        if alert.medium == AlertMedium.VOICE:
            alert.body = with_instructions(message.body, alert.medium, language_of(alert))
        _start(alert, now, message)


def alert_post(
    *,
    workspace: Workspace,
    contact: Contact,
    body: str,
    settings: Escalation,
    external_id: str = "",
) -> tuple[Alert, bool]:
    """An urgent alert to a customer from the shop's software; (alert, created). The same
    `external_id` again returns the first alert (a retry), a different body is a conflict."""
    text = (body or "").strip()
    if not text:
        raise ValidationError(_("The alert's text is empty."), field="text")
    if len(text) > MAX_BODY:
        raise ValidationError(
            _("The text is over %(n)d characters.") % {"n": MAX_BODY}, field="text"
        )
    values = escalation_check(workspace, settings)
    if external_id:
        prior = Alert.objects.for_workspace(workspace).filter(external_id=external_id).first()
        if prior is not None:
            return _replayed(prior, contact, text), False
    alert = Alert(workspace=workspace, contact=contact, external_id=external_id, **values)
    alert.body = with_instructions(text, alert.medium, language_of(alert))
    now = timezone.now()
    try:
        with transaction.atomic():
            alert.save(force_insert=True)
            if not attempt_send(alert, now):
                if not alert.attempts:  # refused outright (a number that cannot be reached)
                    raise ValidationError(
                        _("This customer cannot be reached by %(medium)s.")
                        % {"medium": alert.medium},
                        field="medium",
                    )
                from comptoir.alerts.escalation import escalate

                alert.save()
                escalate(alert, now, reason="unreachable")
            else:
                alert.save()
            plan_check(alert.next_check_at)
    except IntegrityError:  # the same id posted twice at once: the other one won
        prior = Alert.objects.for_workspace(workspace).get(external_id=external_id)
        return _replayed(prior, contact, text), False
    return alert, True


def _replayed(prior: Alert, contact: Contact, text: str) -> Alert:
    if prior.contact_id != contact.id or not prior.body.startswith(text):
        raise Conflict(
            _("Alert id %(id)r was used for another customer or text.") % {"id": prior.external_id},
            field="id",
        )
    return prior


def answers_record(answers: Sequence[Answer], now: dt.datetime) -> None:
    """Record customers' answers (alerts locked by the caller's transaction): the status,
    staff alerted for a problem, a short answer to a text, the webhooks."""
    by_workspace: dict[Any, tuple[list[Answer], list[SendRequest]]] = defaultdict(lambda: ([], []))
    for answer in answers:
        alert = answer.alert
        after_escalation = alert.status == AlertStatus.ESCALATED
        alert.status = answer.outcome
        alert.answer = answer.text[:160]
        alert.answered_at = now
        alert.next_check_at = None
        if answer.outcome == AlertStatus.ACKNOWLEDGED:
            alert.acknowledged_at = now
        alert.save()
        if answer.outcome == AlertStatus.REPORTED:
            staff_alert(alert, "reported", now)
        elif after_escalation:
            note = _("%(name)s confirmed the alert after all.")
            staff_note(alert, note % {"name": alert.contact.display_name}, now)
        group, replies = by_workspace[alert.workspace_id]
        group.append(answer)
        if answer.message is not None:  # a text gets a short answer; a call said it
            replies.append(
                SendRequest(
                    to=str(alert.contact_id),
                    body=answer_text(alert, answer.outcome),
                    purpose=Purpose.TRANSACTIONAL,
                    idempotency_key=f"alert:{alert.id}:answer",
                    kind=ANSWER_KIND,
                    channel=str(answer.message.channel_id),
                )
            )
    for group, replies in by_workspace.values():
        workspace = group[0].alert.workspace
        if replies:
            try:
                with transaction.atomic():
                    messages_send(workspace=workspace, requests=replies)
            except ComptoirError as exc:
                log.warning("alert answers not sent: %s", exc.message)
        webhooks_emit(
            workspace,
            [
                (
                    f"alert.{a.outcome}",
                    alert_payload(
                        a.alert, source=a.source, message_id=a.message.id if a.message else None
                    ),
                )
                for a in group
            ],
        )


def alert_get(*, workspace: Workspace, alert_id: Any) -> Alert:
    found = (
        Alert.objects.for_workspace(workspace)
        .filter(id=alert_id)
        .select_related("contact", "workspace", "policy__rule", "escalate_team")
        .first()
    )
    if found is None:
        raise NotFound(_("No such alert."), field="alert_id")
    return found


def alert_close(*, workspace: Workspace, alert_id: Any) -> Alert:
    """Staff dealt with it: an open alert is closed (no more attempts, nothing sent)."""
    with transaction.atomic():
        alert = alert_get(workspace=workspace, alert_id=alert_id)
        alert = Alert.objects.select_for_update(of=("self",)).get(id=alert.id)
        if alert.status not in OPEN:
            raise Conflict(
                _("This alert is already %(status)s.") % {"status": alert.get_status_display()},
                field="alert_id",
            )
        now = timezone.now()
        alert.status, alert.closed_at, alert.next_check_at = AlertStatus.CLOSED, now, None
        alert.save()
    return alert_get(workspace=workspace, alert_id=alert.id)
