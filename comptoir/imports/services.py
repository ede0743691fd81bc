"""Import jobs: upload, map, check, write. The web pages, the task and the CLI call these.

The file is kept under VAR_DIR/imports/<workspace>/ until it is imported; the consents
it records name the file, its sha256, the line and the cell, which stay as the proof.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.compliance.audit import actor_label_for, audit_record
from comptoir.core.bulk import insert_rows
from comptoir.core.errors import Conflict, ValidationError
from comptoir.imports import mapping as fields
from comptoir.imports import readers
from comptoir.imports.files import import_file_drop, import_root, job_path
from comptoir.imports.models import (
    ImportJob,
    ImportKind,
    ImportMode,
    ImportRowError,
    ImportStatus,
)
from comptoir.imports.validate import Checked, check_rows
from comptoir.imports.writer import write_checked
from comptoir.workspaces.models import Workspace

logger = logging.getLogger(__name__)

# Largest file accepted, and the size under which the web page imports without the queue.
MAX_BYTES: int = settings.COMPTOIR_IMPORT_MAX_BYTES
INLINE_BYTES: int = settings.COMPTOIR_IMPORT_INLINE_BYTES
IMPORT_COMPLETED = "import.completed"

Progress = Callable[[ImportJob], None]


def import_upload(
    *,
    workspace: Workspace,
    kind: str,
    source: IO[bytes],
    name: str,
    delimiter: str = "",
    actor: Any = None,
    actor_label: str = "",
) -> ImportJob:
    """Store an uploaded file and read its shape: format, encoding, delimiter, header.

    The job waits for its column mapping (a suggestion from the header names is filled
    in). Raises ValidationError for a file too large, empty, or not readable as a table
    (with the reason: wrong delimiter, no header, neither UTF-8 nor Windows-1252…).
    """
    if kind not in ImportKind.values:
        raise ValidationError(_("Import contacts or purchases."), field="kind")
    job = ImportJob(workspace=workspace, kind=kind, file_name=Path(name).name[:255] or "import")
    folder = import_root() / str(workspace.id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job.id}.part"
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("xb") as out:
            while chunk := source.read(1024 * 1024):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise ValidationError(
                        _("The file is larger than %(mb)s MB: split it into several files.")
                        % {"mb": MAX_BYTES // (1024 * 1024)},
                        field="file",
                    )
                digest.update(chunk)
                out.write(chunk)
        if not size:
            raise ValidationError(_("The file is empty."), field="file")
        # Named by what it is, not by what it was called (openpyxl goes by the suffix).
        kind_of_file = readers.file_format(path, job.file_name)
        path = path.rename(path.with_suffix(f".{kind_of_file}"))
        shape = readers.shape(path, name=job.file_name, delimiter=delimiter)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    job.file_path = f"{workspace.id}/{path.name}"
    job.file_sha256 = digest.hexdigest()
    job.file_size = size
    _apply_shape(job, shape)
    job.created_by = actor
    job.created_by_label = actor_label or (actor_label_for(actor) if actor else "")
    job.save()
    return job


def _apply_shape(job: ImportJob, shape: readers.FileShape) -> None:
    job.file_format = shape.file_format
    job.encoding = shape.encoding
    job.delimiter = shape.delimiter
    job.header = shape.header
    job.mapping = fields.suggest(shape.header, job.kind)


def import_set_delimiter(*, job: ImportJob, delimiter: str) -> ImportJob:
    """Read the file again with the delimiter the user chose (the sniffing guessed wrong)."""
    _editable(job)
    _apply_shape(job, readers.shape(job_path(job), name=job.file_name, delimiter=delimiter))
    job.save(update_fields=["delimiter", "header", "mapping", "updated_at"])
    return job


def import_preview(job: ImportJob, *, rows: int = 10) -> list[readers.Row]:
    shape = readers.FileShape(job.file_format, job.encoding, job.delimiter, job.header)
    return readers.preview(shape, job_path(job), rows=rows)


def import_same_file(job: ImportJob) -> ImportJob | None:
    """An earlier import of the very same file into this workspace, finished."""
    return (
        ImportJob.objects.for_workspace(job.workspace_id)
        .filter(file_sha256=job.file_sha256, status=ImportStatus.DONE, commit=True)
        .exclude(pk=job.pk)
        .order_by("-finished_at")
        .first()
    )


def _editable(job: ImportJob) -> None:
    if job.running or (job.status == ImportStatus.DONE and job.commit):
        raise Conflict(_("This import has already started."), field="status")
    if not job.file_path:
        raise Conflict(_("This import's file was deleted: upload it again."), field="file")


def import_abandon(*, job: ImportJob) -> None:
    """Delete a job that wrote nothing, and its file; one that wrote stays (the proof)."""
    if job.running or (job.status == ImportStatus.DONE and job.commit):
        raise Conflict(_("This import has already started."), field="status")
    if job.file_path:
        job_path(job).unlink(missing_ok=True)
    job.delete()


def import_configure(
    *, job: ImportJob, mapping: list[str], mode: str, commit: bool = True
) -> ImportJob:
    """Set the mapping and the mode, and queue the job (`commit=False`: a check only).

    Raises ValidationError for a mapping that misses a required field or maps one twice,
    and Conflict when the job already runs or has written its rows.
    """
    _editable(job)
    if mode not in ImportMode.values:
        raise ValidationError(_("Choose all or nothing, or the valid rows."), field="mode")
    job.mapping = fields.validate_mapping(mapping, job.header, job.kind)
    job.mode = mode
    job.commit = commit
    job.status = ImportStatus.QUEUED
    job.failure = ""
    job.progress_done = 0
    job.progress_total = 0
    job.summary = {}
    job.save()
    return job


def import_start(*, job: ImportJob, background: bool | None = None) -> ImportJob:
    """Run the queued job now, or in a worker once committed (by default above INLINE_BYTES)."""
    if background is None:
        background = job.file_size > INLINE_BYTES
    if not background:
        return import_run(job_id=job.id)
    from comptoir.imports.tasks import import_run_task

    job_id = str(job.id)
    transaction.on_commit(lambda: import_run_task(job_id))
    return job


def _save(job: ImportJob, **values: Any) -> None:
    for name, value in values.items():
        setattr(job, name, value)
    ImportJob.objects.filter(pk=job.pk).update(**values, updated_at=timezone.now())


def import_run(*, job_id: Any, progress: Progress | None = None) -> ImportJob:
    """Check every row, then, unless it is a check only, write in one transaction.

    All or nothing: any row in error fails the job and nothing is written. Valid rows:
    the rows in error are left out (each reported), the rest written. A job not queued
    (already taken by another worker) is returned as it is.
    """
    job = ImportJob.objects.select_related("workspace").get(pk=job_id)
    path = job_path(job)
    total = job.file_size if job.file_format == "csv" else readers.xlsx_row_count(path)
    taken = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.QUEUED).update(
        status=ImportStatus.CHECKING, started_at=timezone.now(), progress_total=total
    )
    if not taken:
        return job
    job.status, job.progress_total = ImportStatus.CHECKING, total

    def report(done: int) -> None:
        _save(job, progress_done=done)
        if progress is not None:
            progress(job)

    try:
        checked = _check(job, path, report)
        if checked is None:
            return job
        if not job.commit:
            _save(job, status=ImportStatus.CHECKED, progress_done=total, finished_at=timezone.now())
            return job
        if checked.rows_invalid and job.mode == ImportMode.ALL_OR_NOTHING:
            failure = _(
                "%(n)s of %(total)s lines have errors: nothing was imported. Correct them, "
                "or choose to import the valid rows."
            ) % {"n": checked.rows_invalid, "total": checked.rows_total}
            _save(job, status=ImportStatus.FAILED, failure=failure, finished_at=timezone.now())
            return job
        _save(job, status=ImportStatus.WRITING, progress_done=total)
        if progress is not None:
            progress(job)
        with transaction.atomic():
            summary = write_checked(job=job, checked=checked, actor=job.created_by)
            audit_record(
                workspace=job.workspace_id,
                action=IMPORT_COMPLETED,
                actor=job.created_by,
                actor_label=job.created_by_label,
                target=f"import:{job.id}",
                details={k: v for k, v in summary.items() if k != "notes"},
            )
        _save(job, status=ImportStatus.DONE, summary=summary, finished_at=timezone.now())
        # Imported: the consent proofs name the file, its sha256, line and cell; the
        # file itself, full of personal data, is not kept (erasure could not reach it).
        import_file_drop(job)
    except Exception:
        logger.exception("import %s failed", job.id)
        _save(
            job,
            status=ImportStatus.FAILED,
            failure=_("The import stopped on an unexpected error; nothing was written."),
            finished_at=timezone.now(),
        )
        raise
    finally:
        if progress is not None:
            progress(job)
    return job


def _check(job: ImportJob, path: Path, report: Callable[[int], None]) -> Checked | None:
    """Every row checked, the errors stored on the job; None when the file itself fails."""
    ImportRowError.objects.filter(job=job).delete()
    rows = readers.read_rows(
        path, file_format=job.file_format, encoding=job.encoding, delimiter=job.delimiter
    )
    try:
        checked = check_rows(
            rows,
            header=job.header,
            mapping=job.mapping,
            kind=job.kind,
            region=job.workspace.region,
            progress=report,
        )
    except ValidationError as exc:
        ImportRowError.objects.create(job=job, row=0, column="", reason=exc.message)
        _save(job, status=ImportStatus.FAILED, failure=exc.message, finished_at=timezone.now())
        return None
    insert_rows(
        ImportRowError,
        ("job_id", "row", "column", "reason"),
        ((job.id, line, column, reason) for line, column, reason in checked.errors),
    )
    _save(job, rows_total=checked.rows_total, rows_invalid=checked.rows_invalid)
    return checked
