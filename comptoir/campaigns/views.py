"""The campaign pages, for the workspace's owners: list, composer, test, launch, control.

Thin views over comptoir.campaigns.services and .composer; every query is scoped to the
workspace (another workspace's campaign is a 404). The composer's counter is an htmx
partial re-rendered as the owner types; everything also works as plain form posts.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages as flash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from comptoir.campaigns.audience import audience_queryset
from comptoir.campaigns.composer import composer_measure
from comptoir.campaigns.forms import CampaignForm, CampaignTestForm, LaunchForm
from comptoir.campaigns.models import Campaign, CampaignStatus, CampaignTestSend
from comptoir.campaigns.services import (
    EDITABLE,
    campaign_cancel,
    campaign_launch,
    campaign_pause,
    campaign_resume,
    campaign_save,
    campaign_test_send,
)
from comptoir.contacts.models import Tag
from comptoir.core.errors import ComptoirError
from comptoir.inbox.settings_views import owner_view
from comptoir.segments.models import Segment
from comptoir.workspaces.models import Workspace


def campaign_get(workspace: Workspace, campaign_id: Any) -> Campaign:
    campaign = (
        Campaign.objects.for_workspace(workspace)
        .select_related("workspace", "channel", "tag", "segment")
        .filter(id=campaign_id)
        .first()
    )
    if campaign is None:
        raise Http404(_("No such campaign in this workspace."))
    return campaign


@owner_view
def campaign_list(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    campaigns = Campaign.objects.for_workspace(workspace).order_by("-created_at")[:200]
    return render(request, "campaigns/list.html", {"campaigns": campaigns})


def _initial(campaign: Campaign | None) -> dict[str, Any] | None:
    if campaign is None:
        return None
    return {
        "name": campaign.name,
        "body": campaign.body,
        "audience_kind": campaign.audience_kind,
        "tag": campaign.tag_id,
        "segment": campaign.segment_id,
        "channel": campaign.channel_id,
    }


def _composer(
    request: HttpRequest, workspace: Workspace, campaign: Campaign | None
) -> HttpResponse:
    form = CampaignForm(request.POST or None, initial=_initial(campaign), workspace=workspace)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = campaign_save(
                workspace=workspace,
                name=data["name"],
                body=data["body"],
                audience_kind=data["audience_kind"],
                tag=data["tag"],
                segment=data["segment"],
                channel_id=data["channel"].id,
                campaign=campaign,
                actor=request.user,
            )
        except ComptoirError as exc:
            form.service_error(exc)
        else:
            flash.success(request, _("Campaign saved."))
            return redirect("campaigns:edit", campaign.id)
    context = {
        "form": form,
        "campaign": campaign,
        "test_form": CampaignTestForm(),
        "launch_form": LaunchForm(workspace=workspace),
        "measure": _measure_context(workspace, form.data or _initial(campaign) or {}),
        "tests": (
            CampaignTestSend.objects.filter(campaign=campaign)
            .select_related("message")
            .order_by("-at")[:10]
            if campaign
            else []
        ),
    }
    return render(request, "campaigns/composer.html", context, status=422 if form.errors else 200)


@owner_view
def campaign_new(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    return _composer(request, workspace, None)


@owner_view
def campaign_edit(request: HttpRequest, workspace: Workspace, campaign_id: Any) -> HttpResponse:
    campaign = campaign_get(workspace, campaign_id)
    if campaign.status not in EDITABLE:
        return redirect("campaigns:results", campaign.id)
    return _composer(request, workspace, campaign)


def _measure_context(workspace: Workspace, data: Any) -> dict[str, Any]:
    """The counter's context for the composer's current fields (error included)."""
    body = data.get("body") or ""
    if not body.strip():
        return {"empty": True}
    kind = data.get("audience_kind") or "all"
    try:
        tag = segment = None
        if kind == "tag" and (tag_id := _uuid(data.get("tag"))):
            tag = Tag.objects.for_workspace(workspace).filter(id=tag_id).first()
        if kind == "segment" and (segment_id := _uuid(data.get("segment"))):
            segment = Segment.objects.for_workspace(workspace).filter(id=segment_id).first()
        audience = audience_queryset(workspace=workspace, kind=kind, tag=tag, segment=segment)
        return {"m": composer_measure(workspace=workspace, body=body, audience=audience)}
    except ComptoirError as exc:
        return {"error": exc.message}


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@owner_view
@require_POST
def campaign_measure(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """The live counter (htmx): characters, encoding, segments, cost, previews."""
    context = {"measure": _measure_context(workspace, request.POST)}
    return render(request, "campaigns/_counter.html", context)


@owner_view
@require_POST
def campaign_test(request: HttpRequest, workspace: Workspace, campaign_id: Any) -> HttpResponse:
    campaign = campaign_get(workspace, campaign_id)
    form = CampaignTestForm(request.POST)
    if form.is_valid():
        try:
            sent = campaign_test_send(campaign=campaign, phones=form.numbers(), actor=request.user)
        except ComptoirError as exc:
            flash.error(request, exc.message)
        else:
            flash.success(
                request,
                _("Test sent to %(n)d number(s): see the results below.") % {"n": len(sent)},
            )
    else:
        flash.error(request, _("Give the staff numbers to test on."))
    return redirect("campaigns:edit", campaign.id)


@owner_view
@require_POST
def campaign_launch_view(
    request: HttpRequest, workspace: Workspace, campaign_id: Any
) -> HttpResponse:
    campaign = campaign_get(workspace, campaign_id)
    form = LaunchForm(request.POST, workspace=workspace)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                flash.error(request, str(error))
        return redirect("campaigns:edit", campaign.id)
    at = form.cleaned_data.get("at") if form.cleaned_data["when"] == "later" else None
    try:
        campaign_launch(campaign=campaign, at=at, actor=request.user)
    except ComptoirError as exc:
        flash.error(request, exc.message)
        return redirect("campaigns:edit", campaign.id)
    if at is None:
        flash.success(request, _("Campaign launched."))
        return redirect("campaigns:results", campaign.id)
    flash.success(request, _("Campaign scheduled."))
    return redirect("campaigns:edit", campaign.id)


ACTIONS = {"pause": campaign_pause, "resume": campaign_resume, "cancel": campaign_cancel}


@owner_view
@require_POST
def campaign_action(
    request: HttpRequest, workspace: Workspace, campaign_id: Any, action: str
) -> HttpResponse:
    campaign = campaign_get(workspace, campaign_id)
    service = ACTIONS.get(action)
    if service is None:
        raise Http404(_("No such action."))
    try:
        service(campaign=campaign)
    except ComptoirError as exc:
        flash.error(request, exc.message)
    else:
        flash.success(
            request,
            _("Campaign %(status)s.") % {"status": CampaignStatus(campaign.status).label.lower()},
        )
    target = "campaigns:edit" if campaign.status in EDITABLE else "campaigns:results"
    return redirect(reverse(target, args=[campaign.id]))
