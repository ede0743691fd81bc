"""Huey tasks of campaigns. The database is the truth: a lost task costs a minute.

The minute tick starts scheduled campaigns whose time has come, restarts fan-outs whose
worker died (no batch for FANOUT_STALE), and marks finished campaigns `sent`.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db.models import Q
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from comptoir.campaigns.fanout import campaign_fanout, campaign_settle
from comptoir.campaigns.models import Campaign, CampaignStatus
from comptoir.campaigns.services import campaign_start_due

log = logging.getLogger(__name__)

# A fan-out batch takes well under a second: this long without one, its worker is gone.
FANOUT_STALE = dt.timedelta(minutes=2)


@db_task(priority=5)
def campaign_fanout_task(campaign_id: str) -> None:
    status = Campaign.objects.filter(id=campaign_id).values_list("status", flat=True).first()
    if status is None:
        log.info("campaign %s: deleted before its fan-out ran; nothing to do", campaign_id)
        return
    if status == CampaignStatus.SCHEDULED:
        campaign_start_due()  # an early or exact eta: starts it only when it is due
    campaign_fanout(campaign_id)


@db_periodic_task(crontab(minute="*"))
def campaigns_tick() -> None:
    now = timezone.now()
    for campaign_id in campaign_start_due(now=now):
        campaign_fanout_task(str(campaign_id))
    stalled = Campaign.objects.filter(
        status=CampaignStatus.SENDING, fanned_out_at__isnull=True
    ).filter(
        Q(fanout_heartbeat__lt=now - FANOUT_STALE)
        | Q(fanout_heartbeat__isnull=True, launched_at__lt=now - FANOUT_STALE)
    )
    for campaign_id in stalled.values_list("id", flat=True):
        campaign_fanout_task(str(campaign_id))
    finishing = Campaign.objects.filter(status=CampaignStatus.SENDING, fanned_out_at__isnull=False)
    for campaign in finishing:
        campaign_settle(campaign)
