"""The results page (live while sending), the CSV export, and the short-link redirect."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from comptoir.campaigns.fanout import campaign_settle
from comptoir.campaigns.links import link_follow
from comptoir.campaigns.models import CampaignStatus, CampaignTestSend
from comptoir.campaigns.results import Results, campaign_csv, campaign_results
from comptoir.campaigns.views import campaign_get
from comptoir.inbox.settings_views import owner_view
from comptoir.workspaces.models import Workspace

CHART_WIDTH = 640
CHART_HEIGHT = 160
SERIES = (("sent", "#0f766e"), ("delivered", "#2563eb"), ("clicks", "#d97706"))


def chart(results: Results) -> dict[str, Any]:
    """An inline SVG line chart of the timeline: polyline points per series."""
    rows = results.timeline
    if not rows:
        return {}
    top = max([1, *(row[name] for row in rows for name, _c in SERIES)])
    step = CHART_WIDTH / max(len(rows) - 1, 1)
    lines = []
    for name, colour in SERIES:
        points = " ".join(
            f"{i * step:.1f},{CHART_HEIGHT - row[name] * CHART_HEIGHT / top:.1f}"
            for i, row in enumerate(rows)
        )
        lines.append({"name": name, "colour": colour, "points": points})
    return {
        "lines": lines,
        "top": top,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "start": rows[0]["at"],
        "end": rows[-1]["at"],
    }


def _context(workspace: Workspace, campaign_id: Any) -> dict[str, Any]:
    campaign = campaign_get(workspace, campaign_id)
    campaign_settle(campaign)
    results = campaign_results(campaign)
    return {
        "campaign": campaign,
        "r": results,
        "chart": chart(results),
        "live": campaign.status in (CampaignStatus.SENDING, CampaignStatus.SCHEDULED),
        "tests": CampaignTestSend.objects.filter(campaign=campaign)
        .select_related("message")
        .order_by("-at")[:10],
    }


@owner_view
@require_GET
def campaign_results_view(
    request: HttpRequest, workspace: Workspace, campaign_id: Any
) -> HttpResponse:
    context = _context(workspace, campaign_id)
    if context["campaign"].status in (CampaignStatus.DRAFT,):
        return redirect("campaigns:edit", campaign_id)
    return render(request, "campaigns/results.html", context)


@owner_view
@require_GET
@never_cache
def campaign_results_live(
    request: HttpRequest, workspace: Workspace, campaign_id: Any
) -> HttpResponse:
    """The figures alone, polled by htmx while the campaign is sending."""
    return render(request, "campaigns/_results.html", _context(workspace, campaign_id))


@owner_view
@require_GET
def campaign_export(request: HttpRequest, workspace: Workspace, campaign_id: Any) -> Any:
    campaign = campaign_get(workspace, campaign_id)
    # Streamed: an audience of a million is never one string in memory.
    response = StreamingHttpResponse(campaign_csv(campaign), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.id}.csv"'
    return response


@require_GET
@never_cache
def link_redirect(request: HttpRequest, code: str) -> HttpResponse:
    """A short link: to its URL with the click recorded, or 404 for a code we never made."""
    url = link_follow(code=code, user_agent=request.headers.get("User-Agent", ""))
    if url is None:
        raise Http404(_("This link does not exist."))
    response = redirect(url)
    response["Referrer-Policy"] = "no-referrer"
    return response
