"""The staff inbox: the conversation list beside one conversation, kept live by htmx polling.

Views are thin over comptoir.inbox.services. Every small form answers an htmx request
with its own fragment (typed text kept, error above it) and an `HX-Trigger` that makes
the thread and the list refresh; without JavaScript the same forms post and redirect.
The thread and the list are polled as separate fragments, never the reply box, so what
a staff member is typing survives every refresh.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from comptoir.core.errors import ComptoirError, NotFound, ValidationError
from comptoir.inbox.models import Conversation, ConversationStatus, SavedReply
from comptoir.inbox.panel import contact_panel, conversation_row
from comptoir.inbox.services import (
    conversation_assign,
    conversation_note,
    conversation_read,
    conversation_reply,
    conversation_set_status,
    conversations_list,
    member_user,
    prospect_promote,
    unread_count,
    workspace_staff,
)
from comptoir.inbox.thread import thread
from comptoir.messaging.templating import render as template_render
from comptoir.web.views import staff_view
from comptoir.workspaces.models import Workspace

LIST_PAGE = 50
LIST_MAX = 500
CHANGED = "conversation-changed"  # the event the thread and the list refresh on
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
NAME_MAX = 100

VIEWS = [
    ("all", _lazy("All")),
    ("mine", _lazy("Mine")),
    ("unassigned", _lazy("Unassigned")),
    ("prospects", _lazy("Prospects")),
]
STATUSES = [
    ("", _lazy("Open and waiting")),
    (ConversationStatus.OPEN, _lazy("Open")),
    (ConversationStatus.WAITING, _lazy("Waiting")),
    (ConversationStatus.CLOSED, _lazy("Closed")),
]


@dataclass(frozen=True)
class Filters:
    """What the list shows; carried in every link so a refresh keeps the staff's view."""

    view: str = "all"
    status: str = ""
    shown: int = LIST_PAGE

    def query(self, **changes: Any) -> str:
        """The query string of these filters (with `changes`), defaults left out."""
        values = {"view": self.view, "status": self.status, "shown": self.shown, **changes}
        defaults = {"view": "all", "status": "", "shown": LIST_PAGE}
        return urlencode({k: v for k, v in values.items() if v != defaults[k]})

    @property
    def querystring(self) -> str:
        return self.query()

    @property
    def more(self) -> str:
        return self.query(shown=self.shown + LIST_PAGE)


@dataclass
class Form:
    """A small form shown again: what was typed, the error if any, and a fresh token."""

    values: dict[str, str] = field(default_factory=dict)
    error: str = ""
    token: str = field(default_factory=lambda: secrets.token_hex(16))


def _filters(request: HttpRequest) -> Filters:
    try:
        shown = int(request.GET.get("shown", LIST_PAGE))
    except ValueError:
        shown = LIST_PAGE
    shown = min(max(shown, LIST_PAGE), LIST_MAX)
    view = request.GET.get("view") or "all"
    return Filters(view=view, status=request.GET.get("status", ""), shown=shown)


def _listing(request: HttpRequest, workspace: Workspace, current: Any = None) -> dict[str, Any]:
    """The list's context: one query for the rows (limit + 1 tells whether there are more)."""
    filters, error = _filters(request), ""
    try:
        rows = conversations_list(
            workspace, user=request.user, view=filters.view, status=filters.status
        )
    except ValidationError as exc:
        error = f"{exc.field}: {exc.message}"
        filters = Filters(shown=filters.shown)
        rows = conversations_list(workspace, user=request.user)
    page = list(rows[: filters.shown + 1])
    now = timezone.now()
    return {
        "rows": [conversation_row(c, now) for c in page[: filters.shown]],
        "more": len(page) > filters.shown,
        "filters": filters,
        "list_error": error,
        "current": current,
        "here": reverse("inbox:conversation", args=[current])
        if current
        else reverse("inbox:index"),
        "views": [(v, label, filters.query(view=v, shown=LIST_PAGE)) for v, label in VIEWS],
        "statuses": STATUSES,
    }


def _conversation(workspace: Workspace, conversation_id: Any) -> Conversation:
    found = (
        Conversation.objects.for_workspace(workspace)
        .select_related("contact", "team", "assignee")
        .filter(id=conversation_id)
        .first()
    )
    if found is None:
        raise Http404(_("No such conversation."))
    found.workspace = workspace  # already loaded: services read it
    return found


def _forms(**given: Form) -> dict[str, Form]:
    forms = {name: Form() for name in ("reply", "note", "assign", "promote")}
    forms.update(given)
    return forms


def _page(
    request: HttpRequest, workspace: Workspace, conversation: Conversation, **forms: Form
) -> HttpResponse:
    context = _listing(request, workspace, current=conversation.id)
    context.update(
        conversation=conversation,
        items=thread(conversation),
        panel=contact_panel(conversation),
        staff=workspace_staff(workspace),
        saved_replies=_replies(workspace),
        **_forms(**forms),
    )
    status = 422 if any(f.error for f in forms.values()) else 200
    return render(request, "inbox/conversation.html", context, status=status)


@staff_view
def index(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    return render(request, "inbox/index.html", _listing(request, workspace))


@staff_view
def conversation_list(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    try:
        current = uuid.UUID(request.GET.get("current", ""))
    except ValueError:
        current = None
    return render(request, "inbox/_list.html", _listing(request, workspace, current=current))


@staff_view
def conversation(request: HttpRequest, workspace: Workspace, conversation_id: Any) -> HttpResponse:
    found = _conversation(workspace, conversation_id)
    conversation_read(found)
    return _page(request, workspace, found)


@staff_view
def conversation_thread(
    request: HttpRequest, workspace: Workspace, conversation_id: Any
) -> HttpResponse:
    """The polled thread, with the conversation's state swapped in out of band."""
    found = _conversation(workspace, conversation_id)
    if request.GET.get("seen"):  # the page is on screen: what arrived is read
        conversation_read(found)
    context = {"conversation": found, "items": thread(found), "oob": True}
    return render(request, "inbox/_thread.html", context)


@staff_view
def badge(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    count = unread_count(workspace, request.user)
    return render(request, "inbox/_badge.html", {"count": count})


def _back(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    url = reverse("inbox:conversation", args=[conversation.id])
    return redirect(f"{url}?{request.GET.urlencode()}" if request.GET else url)


def _answer(
    request: HttpRequest,
    workspace: Workspace,
    conversation: Conversation,
    name: str,
    form: Form,
) -> HttpResponse:
    """htmx: the form's fragment (and a refresh unless it failed); else the page again."""
    if request.htmx:  # type: ignore[attr-defined]
        context = {
            "conversation": conversation,
            name: form,
            "staff": workspace_staff(workspace),
            "saved_replies": _replies(workspace),
            "panel": contact_panel(conversation) if name == "promote" else None,
            "filters": _filters(request),
        }
        template = {"assign": "inbox/_actions.html", "promote": "inbox/_panel.html"}.get(
            name, f"inbox/_{name}.html"
        )
        response = render(request, template, context, status=422 if form.error else 200)
        if not form.error:
            response["HX-Trigger"] = CHANGED
        return response
    if form.error:
        return _page(request, workspace, conversation, **{name: form})
    return _back(request, conversation)


def _failed(exc: ComptoirError, values: dict[str, str]) -> Form:
    return Form(values=values, error=exc.message)


@staff_view
@require_POST
def reply(request: HttpRequest, workspace: Workspace, conversation_id: Any) -> HttpResponse:
    found = _conversation(workspace, conversation_id)
    body, token = request.POST.get("body", ""), request.POST.get("token", "")
    form = Form()
    try:
        if not TOKEN.match(token):
            raise ValidationError(_("This form is out of date: reload the page."), field="token")
        conversation_reply(conversation=found, body=body, author=request.user, token=token)
    except ComptoirError as exc:
        form = _failed(exc, {"body": body})
    return _answer(request, workspace, found, "reply", form)


@staff_view
def saved_reply(request: HttpRequest, workspace: Workspace, conversation_id: Any) -> HttpResponse:
    """Put a saved reply, filled in for this customer, after what is typed in the reply box."""
    found = _conversation(workspace, conversation_id)
    typed, token = request.GET.get("body", ""), request.GET.get("token", "")
    form = Form(values={"body": typed}, token=token if TOKEN.match(token) else Form().token)
    try:
        saved = _saved(workspace, request.GET.get("saved", ""))
        contact = found.contact
        text = template_render(
            saved.body,
            {
                "first_name": contact.first_name if contact else "",
                "last_name": contact.last_name if contact else "",
                "shop": workspace.name,
            },
        )
        form.values["body"] = f"{typed.rstrip()}\n{text}" if typed.strip() else text
    except ComptoirError as exc:
        form.error = exc.message
    context = {"conversation": found, "reply": form, "saved_replies": _replies(workspace)}
    return render(request, "inbox/_reply.html", context, status=422 if form.error else 200)


def _replies(workspace: Workspace) -> Any:
    return SavedReply.objects.for_workspace(workspace).only("id", "title")


def _saved(workspace: Workspace, raw: str) -> SavedReply:
    try:
        key = uuid.UUID(raw)
    except ValueError:
        raise ValidationError(_("Pick a saved reply."), field="saved") from None
    found = SavedReply.objects.for_workspace(workspace).filter(id=key).first()
    if found is None:
        raise NotFound(_("This saved reply no longer exists."), field="saved")
    return found


@staff_view
@require_POST
def note(request: HttpRequest, workspace: Workspace, conversation_id: Any) -> HttpResponse:
    found = _conversation(workspace, conversation_id)
    body = request.POST.get("body", "")
    form = Form()
    try:
        conversation_note(conversation=found, body=body, author=request.user)
    except ComptoirError as exc:
        form = _failed(exc, {"body": body})
    return _answer(request, workspace, found, "note", form)


@staff_view
@require_POST
def assign(request: HttpRequest, workspace: Workspace, conversation_id: Any) -> HttpResponse:
    found = _conversation(workspace, conversation_id)
    raw = request.POST.get("assignee", "").strip()
    form = Form()
    try:
        if raw and not raw.isdigit():
            raise ValidationError(
                _("%(value)r is not a staff member's id.") % {"value": raw}, field="assignee"
            )
        assignee = member_user(workspace, int(raw)) if raw else None
        found = conversation_assign(conversation=found, assignee=assignee, author=request.user)
    except ComptoirError as exc:
        form = _failed(exc, {"assignee": raw})
    return _answer(request, workspace, _conversation(workspace, found.id), "assign", form)


@staff_view
@require_POST
def status(request: HttpRequest, workspace: Workspace, conversation_id: Any) -> HttpResponse:
    found = _conversation(workspace, conversation_id)
    form = Form()
    try:
        conversation_set_status(
            conversation=found, status=request.POST.get("status", ""), author=request.user
        )
    except ComptoirError as exc:
        form = _failed(exc, {})
    return _answer(request, workspace, _conversation(workspace, found.id), "assign", form)


@staff_view
@require_POST
def promote(request: HttpRequest, workspace: Workspace, conversation_id: Any) -> HttpResponse:
    found = _conversation(workspace, conversation_id)
    values = {name: request.POST.get(name, "") for name in ("first_name", "last_name")}
    form = Form()
    try:
        for name, value in values.items():
            if len(value.strip()) > NAME_MAX:
                raise ValidationError(_("At most %(n)d characters.") % {"n": NAME_MAX}, field=name)
        prospect_promote(conversation=found, author=request.user, **values)
    except ComptoirError as exc:
        form = _failed(exc, values)
    return _answer(request, workspace, _conversation(workspace, found.id), "promote", form)
