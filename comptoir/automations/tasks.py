"""Huey tasks of automations. The runs table is the truth; these only fire what is due.

Huey's periodic tasks tick once a minute: the tick fires what is due and schedules three
more passes, 15, 30 and 45 s later. After each pass the next run's due time is looked up
(one indexed query) and a pass is scheduled for that moment, so a run goes within about
a second of its time; a lost task costs at most 15 s.
"""

from __future__ import annotations

import time

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from comptoir.automations.firing import FireReport, next_due, runs_fire_due
from comptoir.automations.planning import birthdays_plan

PASS_EVERY = 15
WAKE_FLAG = "comptoir.automations.wake"
WAKE_STALE = 5.0  # seconds past its planned start after which a pending pass is taken as lost


def scheduler_wake(delay: float = 0.0) -> bool:
    """Schedule a pass in `delay` seconds unless one is already planned (coalesced)."""
    start = time.time() + delay
    if not HUEY.put_if_empty(WAKE_FLAG, start):
        planned = HUEY.get(WAKE_FLAG, peek=True)
        if isinstance(planned, float) and planned <= start and time.time() - planned < WAKE_STALE:
            return False
        HUEY.put(WAKE_FLAG, start)
    if delay > 0:
        automations_due_task.schedule(delay=delay)
    else:
        automations_due_task()
    return True


def scheduler_pass() -> FireReport:
    """Fire what is due, then plan the next pass: at once if more is due, else at the next
    run's time when it comes before the next regular pass."""
    report = runs_fire_due()
    if report.more:
        scheduler_wake()
        return report
    upcoming = next_due()
    if upcoming is not None:
        delay = (upcoming - timezone.now()).total_seconds()
        if delay < PASS_EVERY:
            scheduler_wake(max(delay, 0.05))
    return report


@db_task(priority=8)
def automations_due_task() -> None:
    HUEY.delete(WAKE_FLAG)
    scheduler_pass()


@db_periodic_task(crontab(minute="*"))
def automations_tick_task() -> None:
    for delay in range(PASS_EVERY, 60, PASS_EVERY):
        automations_due_task.schedule(delay=delay)
    scheduler_pass()


@db_periodic_task(crontab(minute="7"))
def automations_birthdays_task() -> None:
    # Hourly: a birthday is planned the day before in every time zone, once a year each.
    birthdays_plan()
