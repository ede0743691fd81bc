"""Huey tasks of outgoing webhooks. The database is the truth; these only send what is due."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from comptoir.webhooks.delivery import deliveries_send_due, deliveries_wake, deliveries_woken


@db_task(priority=5)
def webhooks_deliver_task() -> None:
    deliveries_woken()
    report = deliveries_send_due()
    if report.more:
        deliveries_wake()
    elif report.next_due is not None:
        delay = (report.next_due - timezone.now()).total_seconds()
        # Retries due within the minute go on time; later ones wait for the minute tick.
        if delay < dt.timedelta(minutes=1).total_seconds():
            webhooks_deliver_task.schedule(delay=max(delay, 0.5))


@db_periodic_task(crontab(minute="*"))
def webhooks_sweep_task() -> None:
    # A lost wake-up or a dead worker only delays a delivery: this finds what is due.
    deliveries_send_due()
