"""The campaign endpoints of the REST API: read-only, thin over comptoir.campaigns.results.

Mounted at /api/v1/ by api.py (authentication: the workspace of the Bearer key). The
list costs one query whatever its length; a campaign's results a fixed handful.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from comptoir.api.common import request_workspace
from comptoir.api.schemas import ErrorOut
from comptoir.campaigns.fanout import campaign_settle
from comptoir.campaigns.models import Campaign
from comptoir.campaigns.results import campaign_results
from comptoir.core.errors import NotFound

router = Router(tags=["campaigns"])


class CampaignOut(Schema):
    id: uuid.UUID
    name: str
    status: str = Field(description="draft, scheduled, sending, paused, cancelled or sent")
    body: str
    audience_kind: str = Field(description="all, tag or segment")
    tag_id: uuid.UUID | None
    segment_id: uuid.UUID | None
    channel_id: uuid.UUID
    created_at: dt.datetime
    scheduled_at: dt.datetime | None
    launched_at: dt.datetime | None
    finished_at: dt.datetime | None
    recipients_count: int
    queued_count: int = Field(description="Messages created by the fan-out so far.")
    skipped_count: int = Field(description="Recipients refused at launch (see results).")


class SkippedOut(Schema):
    code: str = Field(description="opted_out, no_consent, frequency_cap, not_mobile, …")
    reason: str = Field(description="The sentence shown to people.")
    count: int


class TimelineOut(Schema):
    at: dt.datetime
    sent: int
    delivered: int
    clicks: int


class ResultsOut(Schema):
    recipients: int
    pending: int = Field(description="Recipients not decided yet (fan-out in progress).")
    created: int
    queued: int
    held: int = Field(description="Waiting while the campaign is paused.")
    deferred: int = Field(description="Queued for the next legal sending hours.")
    sending: int
    sent: int = Field(description="Accepted by the provider (delivered ones included).")
    delivered: int
    failed: int
    unknown: int
    skipped: int
    skipped_by_reason: list[SkippedOut]
    clicks: int = Field(description="Clicks on the short links (link previews left out).")
    unique_clicks: int
    replies: int = Field(description="Recipients who wrote back within 7 days.")
    opt_outs: int = Field(description="Recipients who opted out within 7 days.")
    segments_sent: int
    cost: Decimal
    currency: str
    timeline: list[TimelineOut]


class CampaignDetailOut(CampaignOut):
    results: ResultsOut


@router.get("/campaigns", response=list[CampaignOut], summary="The workspace's campaigns")
def list_campaigns(
    request: HttpRequest, status: str | None = None, limit: int = Query(50, ge=1, le=500)
) -> list[Campaign]:
    campaigns = Campaign.objects.for_workspace(request_workspace(request))
    if status:
        campaigns = campaigns.filter(status=status)
    return list(campaigns.order_by("-created_at")[:limit])


@router.get(
    "/campaigns/{campaign_id}",
    response={200: CampaignDetailOut, 404: ErrorOut},
    summary="A campaign with its results (sent, delivered, skipped by reason, clicks…)",
)
def get_campaign(request: HttpRequest, campaign_id: uuid.UUID) -> Campaign:
    campaign = (
        Campaign.objects.for_workspace(request_workspace(request))
        .select_related("workspace")
        .filter(id=campaign_id)
        .first()
    )
    if campaign is None:
        raise NotFound("No such campaign.", field="campaign_id")
    campaign_settle(campaign)
    campaign.results = campaign_results(campaign)  # type: ignore[attr-defined]
    return campaign
