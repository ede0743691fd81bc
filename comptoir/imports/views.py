"""The import pages, under /imports/: upload, map the columns, check, import, follow progress.

Owners only (an agent gets 403): an import writes the customer base and records consent
on the customers' behalf. Thin views over comptoir.imports.services; every query scoped
to the workspace (another workspace's job is a 404). A small file is imported within
the request; a larger one by a worker, the page polling its progress with htmx.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages as flash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from comptoir.core.errors import ComptoirError
from comptoir.imports.mapping import ATTRIBUTE_PREFIX, attribute_key, fields_for
from comptoir.imports.models import ImportJob, ImportKind, ImportMode, ImportStatus
from comptoir.imports.readers import DELIMITER_NAMES
from comptoir.imports.services import (
    import_abandon,
    import_configure,
    import_preview,
    import_same_file,
    import_set_delimiter,
    import_start,
    import_upload,
)
from comptoir.inbox.settings_views import owner_view
from comptoir.workspaces.models import Workspace

ERRORS_SHOWN = 200
DELIMITER_CHOICES = [("", _lazy("Guess"))] + [(d, n) for d, n in DELIMITER_NAMES.items()]


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=_lazy("What the file holds"), choices=ImportKind.choices)
    file = forms.FileField(label=_lazy("File (CSV or XLSX)"))
    delimiter = forms.ChoiceField(
        label=_lazy("Delimiter (CSV)"), choices=DELIMITER_CHOICES, required=False
    )


def _job(workspace: Workspace, job_id: Any) -> ImportJob:
    job = ImportJob.objects.for_workspace(workspace).filter(id=job_id).first()
    if job is None:
        raise Http404(_("Not found in this workspace."))
    return job


@owner_view
def import_index(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = import_upload(
                workspace=workspace,
                kind=form.cleaned_data["kind"],
                source=upload,
                name=upload.name,
                delimiter=form.cleaned_data["delimiter"],
                actor=request.user,
            )
        except ComptoirError as exc:
            form.add_error("delimiter" if exc.field == "delimiter" else "file", exc.message)
        else:
            return redirect("imports:job", job_id=job.id)
    jobs = ImportJob.objects.for_workspace(workspace).order_by("-created_at")[:30]
    return render(request, "imports/index.html", {"form": form, "jobs": jobs})


def _columns(job: ImportJob) -> list[dict[str, Any]]:
    """Per column: its name, the choices, the chosen field, and the preview's cells."""
    choices = [("", _("— not imported —"))] + [(f.name, str(f.label)) for f in fields_for(job.kind)]
    columns = []
    for index, (name, chosen) in enumerate(zip(job.header, job.mapping, strict=True)):
        attribute = ATTRIBUTE_PREFIX + attribute_key(name)
        own = [
            *choices,
            (attribute, _("Keep as attribute “%(key)s”") % {"key": attribute_key(name)}),
        ]
        columns.append({"index": index, "name": name, "choices": own, "chosen": chosen})
    return columns


def _page(request: HttpRequest, job: ImportJob, **context: Any) -> HttpResponse:
    preview = import_preview(job) if job.file_path and not job.running else []
    errors = job.errors.order_by("row", "id")
    context.update(
        job=job,
        columns=_columns(job),
        preview=[row.cells[: len(job.header)] for row in preview],
        delimiters=DELIMITER_CHOICES,
        modes=ImportMode.choices,
        errors=errors[:ERRORS_SHOWN],
        errors_more=max(0, errors.count() - ERRORS_SHOWN),
        same_file=import_same_file(job),
        editable=bool(job.file_path)
        and not job.running
        and not (job.status == ImportStatus.DONE and job.commit),
        summary=[(k.replace("_", " "), v) for k, v in sorted(job.summary.items()) if k != "notes"],
        notes=job.summary.get("notes", []),
    )
    return render(request, "imports/job.html", context)


@owner_view
def import_job(request: HttpRequest, workspace: Workspace, job_id: Any) -> HttpResponse:
    job = _job(workspace, job_id)
    if request.method != "POST":
        return _page(request, job)
    action = request.POST.get("action", "")
    try:
        if action == "delimiter":
            import_set_delimiter(job=job, delimiter=request.POST.get("delimiter", ""))
            return redirect("imports:job", job_id=job.id)
        mapping = [request.POST.get(f"col-{i}", "") for i in range(len(job.header))]
        import_configure(
            job=job,
            mapping=mapping,
            mode=request.POST.get("mode", ImportMode.ALL_OR_NOTHING),
            commit=action != "check",
        )
        import_start(job=job)
    except ComptoirError as exc:
        job.mapping = [request.POST.get(f"col-{i}", "") for i in range(len(job.header))]
        return _page(request, job, form_error=exc.message)
    return redirect("imports:job", job_id=job.id)


@owner_view
def import_progress(request: HttpRequest, workspace: Workspace, job_id: Any) -> HttpResponse:
    """The progress bar alone, polled by htmx; once the job ends, the whole page reloads."""
    job = _job(workspace, job_id)
    response = render(request, "imports/_progress.html", {"job": job})
    if not job.running:
        response["HX-Refresh"] = "true"
    return response


@require_POST
@owner_view
def import_forget(request: HttpRequest, workspace: Workspace, job_id: Any) -> HttpResponse:
    """Leave a job that was never imported (its file is deleted with it)."""
    job = _job(workspace, job_id)
    try:
        import_abandon(job=job)
    except ComptoirError as exc:
        flash.error(request, exc.message)
        return redirect("imports:job", job_id=job.id)
    flash.success(request, _("Import abandoned."))
    return redirect("imports:index")
