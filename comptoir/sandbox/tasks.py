"""The simulated network's clock: delivery receipts after their delay."""

from __future__ import annotations

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from comptoir.sandbox.carrier import RECEIPTS_FLAG, deliver_receipts, schedule_receipts


@db_task(priority=5)
def receipts_task() -> None:
    HUEY.delete(RECEIPTS_FLAG)
    _, next_due = deliver_receipts()
    if next_due is not None:
        schedule_receipts(max((next_due - timezone.now()).total_seconds(), 0.2))


@db_periodic_task(crontab(minute="*"))
def receipts_sweep() -> None:
    # A receipt run lost with a worker costs a minute's delay, never a receipt.
    deliver_receipts()
