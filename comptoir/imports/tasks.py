"""The import's Huey task: a large file is checked and written by a worker, not the web request."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from comptoir.imports.erasure import imports_sweep
from comptoir.imports.services import import_run


@db_task()
def import_run_task(job_id: str) -> None:
    # The job row is the truth: a task delivered twice finds it taken and does nothing.
    import_run(job_id=job_id)


@db_periodic_task(crontab(hour="3", minute="40"))
def imports_sweep_task() -> None:
    # Files uploaded and left without being imported are not kept for ever.
    imports_sweep()
