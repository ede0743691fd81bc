"""Planning runs: which rules an event or a date sets off, and when each message is due.

Runs are rows (`ScheduledRun`), unique per rule, contact and subject, so planning the
same thing twice (a replayed event, the hourly birthday pass) plans it once. A moved
appointment gets new reminder runs keyed by its new start and its pending old ones are
cancelled; a cancelled appointment cancels all its pending runs.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence

from django.db.models import Q
from django.utils import timezone

from comptoir.automations.models import (
    Appointment,
    AutomationRule,
    CustomerEvent,
    DateAttribute,
    RunStatus,
    ScheduledRun,
    TriggerType,
)
from comptoir.automations.outcomes import runs_skipped_emit
from comptoir.contacts.models import Contact
from comptoir.core.bulk import insert_objects
from comptoir.core.ids import uuid7
from comptoir.workspaces.models import Workspace

# A run planned for a time already gone by more than this is not sent: "tomorrow at
# 10:00" read at 18:00 would be wrong.
GRACE = dt.timedelta(minutes=15)
APPOINTMENT_EVENTS = ("appointment.booked", "appointment.updated")


def contact_tz(contact: Contact, workspace: Workspace) -> zoneinfo.ZoneInfo:
    """The contact's time zone when known, else the workspace's."""
    try:
        return zoneinfo.ZoneInfo(contact.timezone) if contact.timezone else workspace.tz
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return workspace.tz


def due_at(rule: AutomationRule, anchor: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """When a rule sends for a date or event at `anchor`: the offset after it, or with
    `at_time`, that local time on the (local) day the offset reaches."""
    moved = anchor + dt.timedelta(minutes=rule.offset_minutes)
    if rule.at_time is None:
        return moved
    day = moved.astimezone(tz).date()
    return dt.datetime.combine(day, rule.at_time, tzinfo=tz)


def appointment_key(appointment: Appointment) -> str:
    start = appointment.starts_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"appointment:{appointment.id}@{start}"


def _rules(workspace: Workspace, query: Q) -> list[AutomationRule]:
    return list(AutomationRule.objects.for_workspace(workspace).filter(query, enabled=True))


def _insert(runs: Sequence[ScheduledRun]) -> None:
    """Store new runs (those planned already are kept as they are) and report skipped ones."""
    insert_objects(list(runs), ignore_conflicts=True)
    skipped = [r for r in runs if r.status == RunStatus.SKIPPED]
    if skipped:
        stored = set(
            ScheduledRun.objects.filter(id__in=[r.id for r in skipped]).values_list("id", flat=True)
        )
        runs_skipped_emit([r for r in skipped if r.id in stored])


def _run(
    rule: AutomationRule,
    contact: Contact,
    subject_key: str,
    due: dt.datetime,
    now: dt.datetime,
    *,
    appointment: Appointment | None = None,
    event: CustomerEvent | None = None,
) -> ScheduledRun:
    run = ScheduledRun(
        id=uuid7(),
        workspace_id=rule.workspace_id,
        rule=rule,
        contact=contact,
        appointment=appointment,
        event=event,
        subject_key=subject_key,
        due_at=due,
    )
    reason = ""
    if appointment is not None and appointment.starts_at <= now:
        reason = "appointment_past"
    elif due < now - GRACE:
        reason = "too_late"
    if reason:
        run.status, run.reason, run.fired_at = RunStatus.SKIPPED, reason, now
    return run


def runs_plan_for_event(
    *, event: CustomerEvent, contact: Contact, appointment: Appointment | None
) -> None:
    """Plan what an event sets off: its event rules, and for a booked or moved
    appointment, the rules counting from its start (reminders)."""
    workspace = event.workspace
    now = timezone.now()
    query = Q(trigger_type=TriggerType.EVENT, trigger=event.type)
    booked = appointment is not None and event.type in APPOINTMENT_EVENTS
    if booked:
        query |= Q(trigger_type=TriggerType.DATE, trigger=DateAttribute.APPOINTMENT_START)
    tz = contact_tz(contact, workspace)
    runs = []
    for rule in _rules(workspace, query):
        if rule.trigger_type == TriggerType.EVENT:
            due = due_at(rule, event.occurred_at, tz)
            runs.append(
                _run(
                    rule,
                    contact,
                    f"event:{event.id}",
                    due,
                    now,
                    appointment=appointment,
                    event=event,
                )
            )
        elif appointment is not None:
            due = due_at(rule, appointment.starts_at, tz)
            key = appointment_key(appointment)
            runs.append(_run(rule, contact, key, due, now, appointment=appointment, event=event))
    if booked and appointment is not None:
        appointment_runs_cancel(
            appointment=appointment,
            reason="rescheduled",
            date_rules_only=True,
            keep_key=appointment_key(appointment),
        )
    _insert(runs)


def appointment_runs_cancel(
    *,
    appointment: Appointment,
    reason: str,
    date_rules_only: bool = False,
    keep_key: str | None = None,
) -> int:
    """Cancel an appointment's pending runs (all of them, or its reminders not for
    `keep_key`, when it moved); returns how many."""
    pending = ScheduledRun.objects.filter(appointment=appointment, status=RunStatus.PENDING)
    if date_rules_only:
        pending = pending.filter(rule__trigger_type=TriggerType.DATE)
    if keep_key is not None:
        pending = pending.exclude(subject_key=keep_key)
    return pending.update(
        status=RunStatus.CANCELLED,
        reason=reason,
        fired_at=timezone.now(),
        updated_at=timezone.now(),
    )


def _birthday_on(birthday: dt.date, year: int) -> dt.date:
    """The birthday in `year`; the 29th of February is kept on the 28th in other years."""
    try:
        return birthday.replace(year=year)
    except ValueError:
        return dt.date(year, 2, 28)


def birthdays_plan(
    *, workspaces: Iterable[Workspace] | None = None, now: dt.datetime | None = None
) -> int:
    """Plan birthday runs for birthdays from yesterday to tomorrow (any time zone's today);
    a run is planned once per contact and year. Returns how many were planned."""
    now = now or timezone.now()
    rules = AutomationRule.objects.filter(
        enabled=True, trigger_type=TriggerType.DATE, trigger=DateAttribute.BIRTHDAY
    ).select_related("workspace")
    if workspaces is not None:
        rules = rules.filter(workspace__in=list(workspaces))
    today = now.date()
    days = [today + dt.timedelta(days=d) for d in (-1, 0, 1)]
    match = Q()
    for day in days:
        match |= Q(birthday__month=day.month, birthday__day=day.day)
        if (day.month, day.day) == (2, 28):
            match |= Q(birthday__month=2, birthday__day=29)
    planned = 0
    for rule in rules:
        runs = []
        contacts = Contact.objects.for_workspace(rule.workspace_id).filter(
            match, birthday__isnull=False
        )
        for contact in contacts:
            tz = contact_tz(contact, rule.workspace)
            for day in days:
                assert contact.birthday is not None
                if _birthday_on(contact.birthday, day.year) != day:
                    continue
                anchor = dt.datetime.combine(day, dt.time(0, 0), tzinfo=tz)
                due = due_at(rule, anchor, tz)
                if due >= now - GRACE:
                    runs.append(_run(rule, contact, f"birthday:{day.year}", due, now))
        _insert(runs)
        planned += len(runs)
    return planned
