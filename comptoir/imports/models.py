"""Imports of contacts and purchases from a shop's point-of-sale exports (CSV, XLSX).

A job's life: `uploaded` (file stored, header and preview read, mapping suggested) >
`queued` > `checking` (every row parsed and validated) > `checked` (a dry run stops here)
or `writing` (one transaction) > `done`; or `failed` with a reason, nothing written.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.core.models import BaseModel, WorkspaceManager
from comptoir.workspaces.models import Workspace


class ImportKind(models.TextChoices):
    CONTACTS = "contacts", _("Contacts")
    PURCHASES = "purchases", _("Purchases")


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing", _("All or nothing")
    VALID_ROWS = "valid_rows", _("Import the valid rows")


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Waiting for the column mapping")
    QUEUED = "queued", _("Queued")
    CHECKING = "checking", _("Checking the rows")
    CHECKED = "checked", _("Checked")
    WRITING = "writing", _("Writing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


RUNNING_STATUSES = frozenset({ImportStatus.QUEUED, ImportStatus.CHECKING, ImportStatus.WRITING})


class ImportJob(BaseModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=ImportKind.choices)
    # The file as uploaded, kept under VAR_DIR/imports/: it is the proof of the consents.
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    file_size = models.BigIntegerField()
    file_format = models.CharField(max_length=8)  # "csv" or "xlsx"
    encoding = models.CharField(max_length=16, blank=True)  # csv: "utf-8" or "cp1252"
    delimiter = models.CharField(max_length=1, blank=True)  # csv: ";", "," or tab
    header = models.JSONField(default=list)
    # One field name per column of the header ("" for a column not imported).
    mapping = models.JSONField(default=list)
    mode = models.CharField(
        max_length=16, choices=ImportMode.choices, default=ImportMode.ALL_OR_NOTHING
    )
    commit = models.BooleanField(default=True)  # False: a dry run, nothing written
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    failure = models.TextField(blank=True)  # why a job failed, for people
    progress_done = models.BigIntegerField(default=0)  # bytes (csv) or rows (xlsx) read
    progress_total = models.BigIntegerField(default=0)
    rows_total = models.IntegerField(default=0)
    rows_invalid = models.IntegerField(default=0)
    # What the write did: contacts created/updated/unchanged, purchases, consent events.
    summary = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceManager["ImportJob"]()

    class Meta:
        indexes = [models.Index(fields=["workspace", "created_at"], name="import_job_ws_idx")]

    def __str__(self) -> str:
        return f"{self.kind} import of {self.file_name} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status in {ImportStatus.DONE, ImportStatus.CHECKED}:
            return 100
        if not self.progress_total:
            return 0
        return min(99, self.progress_done * 100 // self.progress_total)

    @property
    def running(self) -> bool:
        return self.status in RUNNING_STATUSES


class ImportRowError(models.Model):
    """Why one row (or the file, row 0) was refused: its line number, the column, the reason."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="errors")
    row = models.IntegerField()
    column = models.CharField(max_length=255, blank=True)
    reason = models.TextField()

    class Meta:
        indexes = [models.Index(fields=["job", "row"], name="import_error_row_idx")]

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.reason}"
