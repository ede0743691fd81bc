"""The escalation pass: alerts nobody answered within their N minutes are sent again,
then, with no attempt left, escalated to staff.

A pass claims due alerts in batches (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two
workers never take the same one; SQLite serialises writers). Claim, message and alert
commit together, and each message's idempotency key is `alert:<id>:<attempt>`: a crash
rolls all of it back, and a pass run twice finds nothing due the second time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from comptoir.alerts.models import Alert, AlertStatus
from comptoir.alerts.services import attempt_send, emit, plan_check
from comptoir.alerts.staff import staff_alert

BATCH = 100


@dataclass
class CheckReport:
    resent: int = 0
    escalated: int = 0


def escalate(alert: Alert, now: dt.datetime, *, reason: str) -> None:
    """No answer (or no way to reach them): staff are alerted, the alert waits for them."""
    alert.status = AlertStatus.ESCALATED
    alert.escalated_at = now
    alert.next_check_at = None
    alert.save()
    staff_alert(alert, "escalated", now)
    emit(alert, "alert.escalated", reason=reason)


def _follow_up(alert: Alert, now: dt.datetime, report: CheckReport) -> None:
    if alert.attempts < alert.max_attempts:
        reached = attempt_send(alert, now)
        alert.save()
        if reached:
            report.resent += 1
            return
        escalate(alert, now, reason="unreachable")
    else:
        escalate(alert, now, reason="unanswered")
    report.escalated += 1


def alerts_claim(now: dt.datetime, size: int = BATCH) -> list[Alert]:
    """Pending alerts whose check is due, with what following up reads, locked: one query."""
    return list(
        Alert.objects.filter(status=AlertStatus.PENDING, next_check_at__lte=now)
        .select_related("contact", "workspace", "escalate_team", "policy__rule")
        .order_by("next_check_at")
        .select_for_update(skip_locked=True, of=("self",))[:size]
    )


def alerts_check_due(*, now: dt.datetime | None = None, size: int = BATCH) -> CheckReport:
    """Follow up every due alert, batch after batch; then plan the next check."""
    report = CheckReport()
    while True:
        moment = now or timezone.now()
        with transaction.atomic():
            claimed = alerts_claim(moment, size)
            for alert in claimed:
                _follow_up(alert, moment, report)
        if len(claimed) < size:
            break
    plan_check(next_check(), within=60)
    return report


def next_check() -> dt.datetime | None:
    """When the next pending alert is due a check (the (status, next_check_at) index)."""
    found: dt.datetime | None = Alert.objects.filter(status=AlertStatus.PENDING).aggregate(
        first=Min("next_check_at")
    )["first"]
    return found
