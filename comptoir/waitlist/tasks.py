"""Huey tasks of the waitlist: move in-order offers on when their time is over.

Each in-order offer plans a pass at its expiry; the minute tick is the safety net (a lost
task costs at most a minute). The openings and offers tables are the truth.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from comptoir.waitlist.offers import openings_advance


@db_task(priority=8)
def waitlist_advance_task() -> None:
    openings_advance()


@db_periodic_task(crontab(minute="*"))
def waitlist_tick_task() -> None:
    openings_advance()
