"""Huey tasks of compliance: the daily retention purge."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from comptoir.compliance.retention import retention_purge_all


@db_periodic_task(crontab(hour="3", minute="30"))
def retention_task() -> None:
    # At night, in the worker's clock (UTC unless Huey is told otherwise).
    retention_purge_all()
