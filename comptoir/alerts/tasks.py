"""Huey tasks of alerts: the alerts table is the truth; these only follow up what is due.

A pass runs every minute, and one is planned for each alert's check time (and for the
next one when it comes within the minute), so an alert is followed up within about a
second of its N minutes; a lost task costs at most a minute.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from comptoir.alerts.escalation import alerts_check_due


@db_task(priority=8)
def alerts_check_task() -> None:
    alerts_check_due()


@db_periodic_task(crontab(minute="*"))
def alerts_tick_task() -> None:
    alerts_check_due()
