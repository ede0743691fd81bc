"""The import's Huey task: a large file is checked and written by a worker, not the web request."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from comptoir.imports.services import import_run


@db_task()
def import_run_task(job_id: str) -> None:
    # The job row is the truth: a task delivered twice finds it taken and does nothing.
    import_run(job_id=job_id)
