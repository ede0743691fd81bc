"""The inbox's settings pages: settings, saved replies, auto-answer rules, staff teams.

Thin views over comptoir.inbox.settings_services and comptoir.inbox.autoanswers. The
settings, rules and teams are the owners' to change (an agent gets 403); saved replies
are everyone's. A form that fails is shown again with what was typed and the error on
its field; one that succeeds redirects. Row actions on rules (on/off, move, delete)
answer an htmx request with the refreshed list, and work as plain posts without it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from comptoir.compliance.audit import AuditAction, audit_record
from comptoir.core.errors import ComptoirError
from comptoir.inbox.autoanswers import TOPICS, auto_answer_save
from comptoir.inbox.forms import (
    AutoAnswerForm,
    BroadcastForm,
    InboxSettingsForm,
    SavedReplyForm,
    TeamForm,
    TeamMemberForm,
)
from comptoir.inbox.models import AutoAnswer, Conversation, SavedReply, Team, TeamMember
from comptoir.inbox.services import inbox_settings, team_broadcast, workspace_staff
from comptoir.inbox.settings_services import (
    auto_answer_enable,
    auto_answer_move,
    inbox_settings_update,
    saved_reply_save,
    team_create,
    team_delete,
    team_member_add,
    team_member_remove,
)
from comptoir.web.views import staff_view
from comptoir.workspaces.models import Membership, Role, Workspace

View = Callable[..., HttpResponse]


def is_owner(user: Any, workspace: Workspace) -> bool:
    return Membership.objects.filter(workspace=workspace, user=user, role=Role.OWNER).exists()


def owner_view(view: View) -> View:
    """Signed-in owners of the workspace only: agents answer customers, owners set up."""

    @staff_view
    @wraps(view)
    def wrapper(request: HttpRequest, workspace: Workspace, *args: Any, **kwargs: Any) -> Any:
        if not is_owner(request.user, workspace):
            raise PermissionDenied(_("Only the workspace's owners can change this."))
        return view(request, workspace, *args, **kwargs)

    return wrapper


def _one(rows: QuerySet[Any], object_id: Any) -> Any:
    """The row of this workspace's query set, or 404 (another workspace's id included)."""
    found: Model | None = rows.filter(id=object_id).first()
    if found is None:
        raise Http404(_("Not found in this workspace."))
    return found


def _page(request: HttpRequest, workspace: Workspace, template: str, **context: Any) -> Any:
    context.update(section=template.rsplit("/", 1)[-1].split(".")[0])
    context.setdefault("is_owner", is_owner(request.user, workspace))
    return render(request, f"inbox/settings/{template}", context)


# -- inbox settings ----------------------------------------------------------------------


@owner_view
def settings_page(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    current = inbox_settings(workspace)
    form = InboxSettingsForm(request.POST or None, workspace=workspace, current=current)
    if request.method == "POST" and form.is_valid():
        try:
            changed = inbox_settings_update(
                workspace=workspace, values=form.values(), actor=request.user
            )
        except ComptoirError as exc:
            form.service_error(exc)
        else:
            flash.success(request, _("Saved.") if changed else _("Nothing changed."))
            return redirect("inbox:settings")
    return _page(request, workspace, "settings.html", form=form, is_owner=True)


# -- saved replies (every staff member) --------------------------------------------------


def _replies(workspace: Workspace) -> QuerySet[SavedReply]:
    return SavedReply.objects.for_workspace(workspace).order_by("title", "id")


@staff_view
def saved_replies(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    form = SavedReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reply = saved_reply_save(workspace=workspace, **form.cleaned_data)
        except ComptoirError as exc:
            form.service_error(exc)
        else:
            flash.success(request, _("Saved reply “%(title)s” added.") % {"title": reply.title})
            return redirect("inbox:saved_replies")
    return _page(request, workspace, "saved_replies.html", form=form, replies=_replies(workspace))


@staff_view
def saved_reply_edit(request: HttpRequest, workspace: Workspace, reply_id: Any) -> HttpResponse:
    reply = _one(_replies(workspace), reply_id)
    initial = {"title": reply.title, "body": reply.body}
    form = SavedReplyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved_reply_save(workspace=workspace, reply=reply, **form.cleaned_data)
        except ComptoirError as exc:
            form.service_error(exc)
        else:
            flash.success(request, _("Saved."))
            return redirect("inbox:saved_replies")
    return _page(request, workspace, "saved_reply.html", form=form, reply=reply)


@staff_view
@require_POST
def saved_reply_delete(request: HttpRequest, workspace: Workspace, reply_id: Any) -> HttpResponse:
    reply = _one(_replies(workspace), reply_id)
    reply.delete()
    flash.success(request, _("Saved reply “%(title)s” deleted.") % {"title": reply.title})
    return redirect("inbox:saved_replies")


# -- auto-answer rules -------------------------------------------------------------------


def _rules(workspace: Workspace) -> QuerySet[AutoAnswer]:
    return AutoAnswer.objects.for_workspace(workspace).order_by("position", "name", "id")


def _rule_rows(workspace: Workspace) -> list[AutoAnswer]:
    """The rules in order, each with its topic in words for the list."""
    rows = list(_rules(workspace))
    for rule in rows:
        rule.topic_label = TOPICS.get(rule.topic, rule.topic)  # type: ignore[attr-defined]
    return rows


def _rule_save(request: HttpRequest, workspace: Workspace, form: AutoAnswerForm, rule: Any) -> bool:
    """Save the form through the rules' service; False (errors on the form) when refused."""
    data = form.cleaned_data
    try:
        saved = auto_answer_save(
            workspace=workspace,
            name=data["name"],
            keywords=form.keyword_list(),
            answer=data["answer"],
            topic=data["topic"],
            enabled=data["enabled"],
            auto_answer=rule,
        )
    except ComptoirError as exc:
        form.service_error(exc)
        return False
    _rule_audit(request, saved, "added" if rule is None else "edited")
    return True


def _rule_audit(request: HttpRequest, rule: AutoAnswer, change: str) -> None:
    """Who changed what the shop answers automatically, and when."""
    audit_record(
        workspace=rule.workspace_id,
        action=AuditAction.AUTO_ANSWER_CHANGED,
        actor=request.user,
        target=str(rule.id),
        details={
            "change": change,
            "name": rule.name,
            "keywords": rule.keywords,
            "enabled": rule.enabled,
        },
    )


@owner_view
def auto_answers(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    form = AutoAnswerForm(request.POST or None, initial={"enabled": True})
    if request.method == "POST" and form.is_valid() and _rule_save(request, workspace, form, None):
        flash.success(request, _("Rule added."))
        return redirect("inbox:auto_answers")
    return _page(
        request,
        workspace,
        "auto_answers.html",
        form=form,
        rules=_rule_rows(workspace),
        enabled=inbox_settings(workspace).auto_answers_enabled,
    )


@owner_view
def auto_answer_edit(request: HttpRequest, workspace: Workspace, rule_id: Any) -> HttpResponse:
    rule = _one(_rules(workspace), rule_id)
    initial = {
        "name": rule.name,
        "keywords": ", ".join(rule.keywords),
        "answer": rule.answer,
        "topic": rule.topic,
        "enabled": rule.enabled,
    }
    form = AutoAnswerForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid() and _rule_save(request, workspace, form, rule):
        flash.success(request, _("Saved."))
        return redirect("inbox:auto_answers")
    return _page(request, workspace, "auto_answer.html", form=form, rule=rule)


def _rules_changed(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """htmx: the refreshed list in place; a plain post: back to the page."""
    if getattr(request, "htmx", False):
        return render(request, "inbox/settings/_rules.html", {"rules": _rule_rows(workspace)})
    return redirect("inbox:auto_answers")


@owner_view
@require_POST
def auto_answer_toggle(request: HttpRequest, workspace: Workspace, rule_id: Any) -> HttpResponse:
    rule = _one(_rules(workspace), rule_id)
    rule = auto_answer_enable(rule=rule, enabled=request.POST.get("enabled") == "1")
    _rule_audit(request, rule, "enabled" if rule.enabled else "disabled")
    return _rules_changed(request, workspace)


@owner_view
@require_POST
def auto_answer_move_view(request: HttpRequest, workspace: Workspace, rule_id: Any) -> HttpResponse:
    rule = _one(_rules(workspace), rule_id)
    offset = -1 if request.POST.get("direction") == "up" else 1
    auto_answer_move(rule=rule, offset=offset)
    return _rules_changed(request, workspace)


@owner_view
@require_POST
def auto_answer_delete(request: HttpRequest, workspace: Workspace, rule_id: Any) -> HttpResponse:
    rule = _one(_rules(workspace), rule_id)
    with transaction.atomic():
        _rule_audit(request, rule, "deleted")
        rule.delete()
    return _rules_changed(request, workspace)


# -- teams -------------------------------------------------------------------------------


def _teams(workspace: Workspace) -> QuerySet[Team]:
    return Team.objects.for_workspace(workspace).order_by("name")


@owner_view
def teams(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = team_create(workspace=workspace, name=form.cleaned_data["name"])
        except ComptoirError as exc:
            form.service_error(exc)
        else:
            return redirect("inbox:team", team_id=team.id)
    rows = _teams(workspace).annotate(member_count=Count("members"))
    return _page(request, workspace, "teams.html", form=form, teams=rows)


def _team_page(
    request: HttpRequest,
    workspace: Workspace,
    team: Team,
    *,
    member_form: TeamMemberForm | None = None,
    broadcast_form: BroadcastForm | None = None,
) -> HttpResponse:
    members = team.members.select_related("contact", "user").order_by("created_at")
    # Looked up, not created: the conversation starts with the first broadcast.
    conversation = Conversation.objects.for_workspace(workspace).filter(team=team).first()
    return _page(
        request,
        workspace,
        "team.html",
        team=team,
        members=members,
        conversation=conversation,
        member_form=member_form or TeamMemberForm(staff=workspace_staff(workspace)),
        broadcast_form=broadcast_form or BroadcastForm(),
    )


@owner_view
def team(request: HttpRequest, workspace: Workspace, team_id: Any) -> HttpResponse:
    return _team_page(request, workspace, _one(_teams(workspace), team_id))


@owner_view
@require_POST
def team_member_add_view(request: HttpRequest, workspace: Workspace, team_id: Any) -> HttpResponse:
    found = _one(_teams(workspace), team_id)
    form = TeamMemberForm(request.POST, staff=workspace_staff(workspace))
    if form.is_valid():
        data = form.cleaned_data
        try:
            member = team_member_add(
                team=found,
                phone=data["phone"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                user_id=data["user"] or None,
            )
        except ComptoirError as exc:
            form.service_error(exc)
        else:
            flash.success(request, _("%(name)s added.") % {"name": member.contact.display_name})
            return redirect("inbox:team", team_id=found.id)
    return _team_page(request, workspace, found, member_form=form)


@owner_view
@require_POST
def team_member_remove_view(
    request: HttpRequest, workspace: Workspace, team_id: Any, member_id: Any
) -> HttpResponse:
    found = _one(_teams(workspace), team_id)
    member = _one(TeamMember.objects.filter(team=found).select_related("contact"), member_id)
    team_member_remove(member=member)
    flash.success(request, _("%(name)s removed.") % {"name": member.contact.display_name})
    return redirect("inbox:team", team_id=found.id)


@owner_view
@require_POST
def team_broadcast_view(request: HttpRequest, workspace: Workspace, team_id: Any) -> HttpResponse:
    found = _one(_teams(workspace), team_id)
    form = BroadcastForm(request.POST)
    if form.is_valid():
        try:
            sent = team_broadcast(team=found, body=form.cleaned_data["body"], author=request.user)
        except ComptoirError as exc:
            form.service_error(exc)
        else:
            flash.success(request, _("Texted to %(n)d member(s).") % {"n": len(sent)})
            return redirect("inbox:team", team_id=found.id)
    return _team_page(request, workspace, found, broadcast_form=form)


@owner_view
@require_POST
def team_delete_view(request: HttpRequest, workspace: Workspace, team_id: Any) -> HttpResponse:
    found = _one(_teams(workspace), team_id)
    team_delete(team=found)
    flash.success(request, _("Team %(name)s deleted.") % {"name": found.name})
    return redirect("inbox:teams")
