"""The segment pages: the list, the editor with its live count, a sample of contacts.

Thin views over comptoir.segments.services and .query. Every staff member may read
segments and see counts; only owners save or delete (an agent's post is a 403).
Another workspace's segment is a 404. The editor posts the definition being typed to
`segments:preview` (htmx, debounced) and shows the count, or the error naming the
condition, without saving anything.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from comptoir.core.errors import ComptoirError, ValidationError
from comptoir.inbox.settings_views import is_owner, owner_view
from comptoir.segments.definition import KINDS
from comptoir.segments.models import Segment
from comptoir.segments.query import segment_count, segment_sample
from comptoir.segments.services import segment_create, segment_delete, segment_update
from comptoir.web.views import staff_view
from comptoir.workspaces.models import Workspace

SAMPLE_SIZE = 10
EMPTY = {"match": "all", "conditions": []}
# What the editor's buttons add, one per kind of condition (edited in place afterwards).
SNIPPETS: dict[str, tuple[Any, dict[str, Any]]] = {
    "language": (_lazy("Language"), {"kind": "language", "languages": ["fr"]}),
    "birthday_month": (_lazy("Birthday month"), {"kind": "birthday_month", "months": [1]}),
    "prospect": (_lazy("Prospect"), {"kind": "prospect", "value": True}),
    "attribute": (
        _lazy("Attribute"),
        {"kind": "attribute", "key": "loyalty_level", "value": "gold"},
    ),
    "tag": (_lazy("Tag"), {"kind": "tag", "tag": "vip"}),
    "interest": (_lazy("Declared interest"), {"kind": "interest", "interest": "gold"}),
    "bought": (
        _lazy("Bought"),
        {"kind": "bought", "product_type": "jewellery", "material": "gold"},
    ),
    "not_bought_since": (
        _lazy("Not seen for … months"),
        {"kind": "not_bought_since", "months": 12},
    ),
    "total_spent": (_lazy("Total spent"), {"kind": "total_spent", "min": 500}),
    "purchase_count": (_lazy("Number of purchases"), {"kind": "purchase_count", "min": 2}),
    "consent": (
        _lazy("Consent"),
        {"kind": "consent", "channel": "sms", "purpose": "marketing", "state": "granted"},
    ),
}
assert SNIPPETS.keys() == KINDS.keys()


def _segment(workspace: Workspace, segment_id: Any) -> Segment:
    segment = Segment.objects.for_workspace(workspace).filter(id=segment_id).first()
    if segment is None:
        raise Http404(_("Not found in this workspace."))
    return segment


def _parsed(text: str) -> Any:
    try:
        return json.loads(text or "null")
    except ValueError as exc:
        raise ValidationError(
            _("The definition is not valid JSON: %(reason)s.") % {"reason": exc},
            field="definition",
        ) from None


def _preview(workspace: Workspace, text: str) -> dict[str, Any]:
    """The count and a few contacts for a definition, or the error that stops it."""
    try:
        definition = _parsed(text)
        count = segment_count(definition, workspace)
        sample = segment_sample(definition, workspace, SAMPLE_SIZE)
    except ValidationError as exc:
        return {"error": exc}
    return {"count": count, "sample": sample}


def _editor(
    request: HttpRequest,
    workspace: Workspace,
    segment: Segment | None,
    *,
    name: str,
    text: str,
    error: ComptoirError | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "segment": segment,
        "name": name,
        "text": text,
        "error": error,
        "is_owner": is_owner(request.user, workspace),
        "snippets": [
            (label, json.dumps(snippet, ensure_ascii=False)) for label, snippet in SNIPPETS.values()
        ],
        **_preview(workspace, text),
    }
    return render(request, "segments/edit.html", context, status=status)


def _pretty(definition: Any) -> str:
    return json.dumps(definition, indent=2, ensure_ascii=False)


@staff_view
def segment_list(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    segments = Segment.objects.for_workspace(workspace).order_by("name", "id")
    return render(
        request,
        "segments/list.html",
        {"segments": segments, "is_owner": is_owner(request.user, workspace)},
    )


@owner_view
def segment_new(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    if request.method != "POST":
        return _editor(request, workspace, None, name="", text=_pretty(EMPTY))
    name, text = request.POST.get("name", ""), request.POST.get("definition", "")
    try:
        segment = segment_create(
            workspace=workspace, name=name, definition=_parsed(text), actor=request.user
        )
    except ComptoirError as exc:
        return _editor(request, workspace, None, name=name, text=text, error=exc, status=422)
    flash.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
    return redirect("segments:edit", segment_id=segment.id)


@staff_view
def segment_edit(request: HttpRequest, workspace: Workspace, segment_id: Any) -> HttpResponse:
    segment = _segment(workspace, segment_id)
    if request.method != "POST":
        return _editor(
            request, workspace, segment, name=segment.name, text=_pretty(segment.definition)
        )
    if not is_owner(request.user, workspace):
        raise PermissionDenied(_("Only the workspace's owners can change this."))
    name, text = request.POST.get("name", ""), request.POST.get("definition", "")
    try:
        segment_update(segment=segment, name=name, definition=_parsed(text), actor=request.user)
    except ComptoirError as exc:
        segment.refresh_from_db()
        return _editor(request, workspace, segment, name=name, text=text, error=exc, status=422)
    flash.success(request, _("Saved."))
    return redirect("segments:edit", segment_id=segment.id)


@owner_view
@require_POST
def segment_remove(request: HttpRequest, workspace: Workspace, segment_id: Any) -> HttpResponse:
    segment = _segment(workspace, segment_id)
    try:
        segment_delete(segment=segment)
    except ComptoirError as exc:
        flash.error(request, exc.message)
        return redirect("segments:edit", segment_id=segment.id)
    flash.success(request, _("Segment “%(name)s” deleted.") % {"name": segment.name})
    return redirect("segments:list")


@staff_view
@require_POST
def segment_preview(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """The live count while editing (htmx): nothing is saved."""
    context = _preview(workspace, request.POST.get("definition", ""))
    return render(request, "segments/_count.html", context)
