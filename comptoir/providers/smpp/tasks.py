"""The worker's side: binds start with the worker and are kept in line every minute.

Registered when this module is imported: Django's `autodiscover_modules("tasks")` does
that at worker start for an installed app (see `apps.py`).
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task

from comptoir.providers.smpp.sessions import sessions

log = logging.getLogger(__name__)


@HUEY.on_startup("smpp_binds")
def start_binds() -> None:
    # Runs in every worker thread; the first one binds, the others find the binds there.
    try:
        count = sessions().ensure_all()
    except Exception as exc:
        # The minute tick tries again; a worker must start even with the database away.
        log.error("smpp: binding at worker start failed: %s", exc)
        return
    if count:
        log.info("smpp: %d channel(s) bound or binding", count)


@db_periodic_task(crontab(minute="*"))
def smpp_binds_task() -> None:
    """New channels get a bind, changed ones a new one, removed or disabled ones none."""
    sessions().ensure_all()
