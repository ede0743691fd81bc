"""Where an import's uploaded file is kept, and its deletion."""

from __future__ import annotations

from pathlib import Path

from django.utils import timezone

from comptoir.config.env import VAR_DIR
from comptoir.imports.models import ImportJob, ImportStatus


def import_root() -> Path:
    return VAR_DIR / "imports"


def job_path(job: ImportJob) -> Path:
    return import_root() / job.file_path


def import_file_drop(job: ImportJob, *, failure: str = "") -> None:
    """Delete a job's stored file; the job stays, as the record of what was imported."""
    if not job.file_path:
        return
    job_path(job).unlink(missing_ok=True)
    values: dict[str, object] = {"file_path": "", "updated_at": timezone.now()}
    if failure and job.status != ImportStatus.DONE:
        values |= {"status": ImportStatus.FAILED, "failure": failure}
    ImportJob.objects.filter(pk=job.pk).update(**values)
    for name, value in values.items():
        setattr(job, name, value)
