"""Waking the dispatcher: the queue only wakes workers, the database holds the work.

Wake-ups are coalesced: while one is pending for a channel, more are not queued, so
20,000 API calls make a handful of tasks, not 20,000. A flag older than WAKE_STALE
seconds is taken as lost (its worker died) and replaced.
"""

from __future__ import annotations

import logging
import time
import uuid
from functools import partial

from django.db import transaction
from huey.contrib.djhuey import HUEY

WAKE_STALE = 10.0
log = logging.getLogger(__name__)


def _flag(channel_id: uuid.UUID | str) -> str:
    return f"comptoir.wake.{channel_id}"


def wake(channel_id: uuid.UUID | str) -> bool:
    """Queue a dispatch task for the channel unless one is already pending.

    Never raises: the messages are already stored, and the reaper's minute tick wakes
    any channel whose wake-up was lost (queue down, process killed).
    """
    try:
        return _wake(channel_id)
    except Exception:
        log.exception("could not wake the dispatcher for channel %s", channel_id)
        return False


def _wake(channel_id: uuid.UUID | str) -> bool:
    from comptoir.dispatch.tasks import dispatch_channel_task

    now = time.time()
    key = _flag(channel_id)
    if not HUEY.put_if_empty(key, now):
        stamp = HUEY.get(key, peek=True)
        if isinstance(stamp, float) and now - stamp < WAKE_STALE:
            return False
        HUEY.put(key, now)
    dispatch_channel_task(str(channel_id))
    return True


def woken(channel_id: uuid.UUID | str) -> None:
    """Called by the task as it starts: later wake-ups queue a new task."""
    HUEY.delete(_flag(channel_id))


def wake_after_commit(channel_id: uuid.UUID | str) -> None:
    transaction.on_commit(partial(wake, channel_id), robust=True)
