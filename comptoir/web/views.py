"""Staff pages: thin views over services and query sets."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from comptoir.compliance.countries import marketing_text
from comptoir.compliance.policy import policy_for_workspace
from comptoir.core.errors import ComptoirError
from comptoir.messaging.encoding import analyze
from comptoir.messaging.models import Message, Purpose
from comptoir.messaging.outbox import message_send
from comptoir.web.context import current_workspace
from comptoir.workspaces.models import Workspace

View = Callable[..., HttpResponse]


def staff_view(view: Callable[..., HttpResponse]) -> View:
    """Signed-in staff of a workspace; the workspace is passed to the view."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        workspace = current_workspace(request)
        if workspace is None:
            raise Http404(_("You are not a member of any workspace."))
        return view(request, workspace, *args, **kwargs)

    return wrapper


# The send form's fields by the names services give them in errors.
SEND_FIELDS = {
    "to": _lazy("To (phone number)"),
    "body": _lazy("Message"),
    "purpose": _lazy("Purpose"),
}


def _home(request: HttpRequest, workspace: Workspace, *, values: Any = None) -> HttpResponse:
    recent = (
        Message.objects.for_workspace(workspace)
        .select_related("contact")
        .order_by("-created_at")[:30]
    )
    template = "web/_messages.html" if request.htmx else "web/home.html"  # type: ignore[attr-defined]
    context = {
        "recent": recent,
        "purposes": Purpose.choices,
        "values": values or {"purpose": Purpose.CONVERSATIONAL},
    }
    return render(request, template, context)


@staff_view
def home(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    return _home(request, workspace)


@staff_view
@require_POST
def send(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    try:
        result = message_send(
            workspace=workspace,
            to=request.POST.get("to", ""),
            body=request.POST.get("body", ""),
            purpose=request.POST.get("purpose", Purpose.CONVERSATIONAL),
        )
    except ComptoirError as exc:
        field = SEND_FIELDS.get(exc.field or "", exc.field)
        flash.error(request, f"{field}: {exc.message}" if field else exc.message)
        # Shown again with what was typed, so a typo in the number does not cost the text.
        return _home(request, workspace, values=request.POST)
    flash.success(request, _("Queued for %(to)s.") % {"to": result.message.address})
    return redirect("web:home")


@staff_view
def counter(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """The live counter counts what will go: marketing includes the name and opt-out mention."""
    body = request.GET.get("body", "")
    if body.strip() and request.GET.get("purpose") == Purpose.MARKETING:
        body = marketing_text(body, policy_for_workspace(workspace))
    info = analyze(body)
    return render(request, "web/_counter.html", {"info": info, "cap": workspace.segment_cap})


@staff_view
def message_detail(request: HttpRequest, workspace: Workspace, message_id: str) -> HttpResponse:
    message = (
        Message.objects.for_workspace(workspace)
        .select_related("contact", "channel")
        .filter(id=message_id)
        .first()
    )
    if message is None:
        raise Http404(_("No such message."))
    history = message.transitions.order_by("at", "id")
    return render(request, "web/message.html", {"message": message, "history": history})
