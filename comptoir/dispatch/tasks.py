"""Huey tasks of the dispatcher. Each reads the database as the truth."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from django.db import connections
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_shutdown

from comptoir.dispatch.dispatcher import dispatch_channel
from comptoir.dispatch.reaper import reap
from comptoir.dispatch.wakeup import wake, woken

# How often Huey's consumer looks at scheduled tasks (its scheduler_interval, 1 s).
SCHEDULER_TICK = 1.0
# How many times a helping run goes back to the queue looking for another process.
HELPER_HOPS = 3

_running: Counter[str] = Counter()  # channel id → dispatch runs in this process
_running_lock = threading.Lock()


@contextmanager
def _running_here(channel_id: str) -> Iterator[None]:
    with _running_lock:
        _running[channel_id] += 1
    try:
        yield
    finally:
        with _running_lock:
            _running[channel_id] -= 1
            if not _running[channel_id]:
                del _running[channel_id]


def running_here(channel_id: str) -> bool:
    """Whether a dispatch run of this process is sending the channel right now."""
    with _running_lock:
        return channel_id in _running


@on_shutdown()
def close_connections() -> None:
    # Each worker thread holds its own database connection: give it back on the way out.
    connections.close_all()


@db_task(priority=10)
def dispatch_channel_task(channel_id: str, helping: bool = False, hops: int = 0) -> None:
    """One dispatch run. A run woken for the channel may start one helping run when it
    finds a backlog (see `dispatch_channel`); a helping run starts none, and leaves the
    wake-up flag to the run that was woken.

    A helping run taken by a worker thread of the process already sending the channel
    would share that run's interpreter lock: more contention, not more speed. It goes
    back to the queue for another process's worker, up to HELPER_HOPS times, then is
    dropped: in a single process the run it was to help sends the backlog alone. (A woken
    run is never dropped: it may be the only one to see the messages that woke it.)
    """
    if helping and running_here(channel_id):
        if hops < HELPER_HOPS:
            dispatch_channel_task(channel_id, helping=True, hops=hops + 1)
        return
    if not helping:
        woken(channel_id)
    with _running_here(channel_id):
        report = dispatch_channel(
            channel_id,
            helper=None if helping else partial(dispatch_channel_task, channel_id, helping=True),
        )
    if report.retry_in and report.retry_in < SCHEDULER_TICK:
        # The channel's pace allows the next send within a tick of Huey's scheduler, which
        # would start it up to a second late (a 50/s channel sending 46/s): wait here.
        time.sleep(report.retry_in)
        wake(channel_id)
    elif report.retry_in:
        # The channel's pace (or the provider's throttling) says when: not before.
        dispatch_channel_task.schedule(args=(channel_id,), delay=report.retry_in)
    elif report.more:
        wake(channel_id)
    elif report.next_due is not None:
        delay = (report.next_due - timezone.now()).total_seconds()
        # Far-off messages are picked up by the reaper's minute tick instead.
        if delay < dt.timedelta(minutes=1).total_seconds():
            dispatch_channel_task.schedule(args=(channel_id,), delay=max(delay, 0.5))


@db_periodic_task(crontab(minute="*"))
def reaper_task() -> None:
    reap()
