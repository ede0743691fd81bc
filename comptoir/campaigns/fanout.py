"""The fan-out: a launched campaign's audience turned into queued messages, in batches.

First the audience is frozen: one INSERT … SELECT copies the segment's contact ids into
CampaignAudience (the segment's query runs once, in the database). Then each batch is
one transaction, with the campaign row locked:
1. the next BATCH contacts of the frozen audience after the campaign's cursor (a range
   scan of its primary key, joined to the contacts);
2. compliance for the whole batch (set-based: a few queries, not one per recipient);
3. the text filled per recipient (cached by values), a random code per link;
4. recipients, messages, their first transition and short links written with multi-row
   statements, and the cursor moved past the batch.
After each commit the dispatcher is woken; it sends at the channel's rate. Memory is
one batch, whatever the audience.

A crash loses at most the batch in progress (rolled back): a new run starts from the
cursor, and the (campaign, contact) unique constraint refuses a second row for anyone,
so no contact can get the campaign twice. A paused or cancelled campaign stops between
two batches.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from comptoir.campaigns.audience import campaign_audience
from comptoir.campaigns.fanout_batch import (
    CAMPAIGN_KIND,
    LINK_COLUMNS,
    MESSAGE_COLUMNS,
    RECIPIENT_COLUMNS,
    TOO_LONG,
    Prepared,
    Preparer,
)
from comptoir.campaigns.models import (
    Campaign,
    CampaignAudience,
    CampaignRecipient,
    CampaignStatus,
    ShortLink,
)
from comptoir.campaigns.personalise import CONTACT_VARIABLES, Personaliser, text_compile
from comptoir.compliance.policy import policy_for_workspace
from comptoir.core.bulk import convert, insert_rows
from comptoir.dispatch.claims import TRANSITION_COLUMNS
from comptoir.dispatch.wakeup import wake_after_commit
from comptoir.messaging.models import Message, MessageTransition, Status
from comptoir.messaging.templating import placeholders

log = logging.getLogger(__name__)

BATCH = 5000
# A paused campaign's messages wait in this status, out of the dispatcher's reach (it
# claims `queued` only); resuming puts them back. See docs/campaigns.md.
HELD = Status.HELD
__all__ = [
    "CAMPAIGN_KIND",
    "HELD",
    "LINK_COLUMNS",
    "MESSAGE_COLUMNS",
    "RECIPIENT_COLUMNS",
    "TOO_LONG",
    "campaign_fanout",
    "campaign_messages",
    "campaign_settle",
]


@dataclass
class FanoutReport:
    queued: int = 0
    skipped: int = 0
    batches: int = 0
    done: bool = False  # every recipient decided
    stopped: str = ""  # why it stopped early: the campaign's status
    # Seconds spent per step (audience, compliance, personalise, write): for benchmarks.
    timings: dict[str, float] = field(default_factory=dict)

    def timed(self, step: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[step] = self.timings.get(step, 0.0) + now - since
        return now


def audience_freeze(campaign: Campaign) -> int:
    """Copy the audience's contact ids into CampaignAudience, in the database; how many.

    The segment's query runs once, whatever the audience's size; the fan-out then walks
    this copy by its primary key, a range scan per batch.
    """
    contacts = campaign_audience(campaign).order_by().values("id").distinct()
    select, params = contacts.query.sql_with_params()
    table = connection.ops.quote_name(CampaignAudience._meta.db_table)
    campaign_id = convert(CampaignAudience._meta.get_field("campaign"), campaign.id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, contact_id) "  # noqa: S608 - names from models
            f"SELECT %s, audience.id FROM ({select}) AS audience "
            # WHERE true: SQLite's parser needs it between a SELECT and its ON CONFLICT.
            "WHERE true ON CONFLICT DO NOTHING",
            [campaign_id, *params],
        )
        if connection.vendor == "postgresql":
            # Fresh statistics, or the planner may join the whole contacts table for every
            # batch instead of walking the key (seen: 0.6 s a batch at 1,000,000).
            cursor.execute(f"ANALYZE {table}")
    return CampaignAudience.objects.filter(campaign=campaign).count()


def _batch(campaign: Campaign, batch: Prepared, report: FanoutReport) -> tuple[int, int]:
    """Write one prepared batch (the caller holds the transaction); (queued, skipped)."""
    clock = time.perf_counter()
    # First: a contact some other run already decided fails here, before anything else.
    insert_rows(CampaignRecipient, RECIPIENT_COLUMNS, batch.recipients)
    clock = report.timed("write recipients", clock)
    insert_rows(Message, MESSAGE_COLUMNS, batch.messages)
    insert_rows(MessageTransition, TRANSITION_COLUMNS, batch.transitions)
    clock = report.timed("write messages", clock)
    insert_rows(ShortLink, LINK_COLUMNS, batch.links)
    report.timed("write links", clock)
    return batch.queued, batch.skipped


def campaign_fanout(campaign_id: uuid.UUID | str, *, batch: int = BATCH) -> FanoutReport:
    """Decide every recipient of a sending campaign, batch by batch, from its cursor.

    Safe to run twice, at once or after a crash: each batch locks the campaign row and
    starts after the cursor the last committed batch left. Stops when the campaign is
    paused or cancelled (resuming runs it again).
    """
    report = FanoutReport()
    campaign = Campaign.objects.select_related("workspace", "channel", "tag", "segment").get(
        id=campaign_id
    )
    compiled = text_compile(campaign.body, known_attributes=_attributes(campaign))
    personaliser = Personaliser(compiled, policy_for_workspace(campaign.workspace))
    # The next batch is made while this one commits, on a second connection: only on
    # PostgreSQL (SQLite's work is all in this process) and outside a caller's
    # transaction (the thread could not see what it has not committed).
    ahead = connection.vendor == "postgresql" and not connection.in_atomic_block
    with Preparer(campaign, personaliser, batch, ahead=ahead) as preparer:
        while not report.done:
            for attempt in range(3):
                try:
                    with transaction.atomic():
                        if not _fanout_batch(campaign, preparer, report):
                            return report
                        clock = time.perf_counter()
                    report.timed("commit", clock)
                    break
                except IntegrityError:
                    # Two random link codes collided, or another run decided one of
                    # these contacts: the batch rolled back whole; take it again from
                    # the cursor.
                    if attempt == 2:
                        raise
                    log.warning("campaign %s: fan-out batch retried after a conflict", campaign.id)
    campaign_settle(campaign)
    return report


def _fanout_batch(campaign: Campaign, preparer: Preparer, report: FanoutReport) -> bool:
    """One batch, inside the caller's transaction; False when the campaign is not sending."""
    status = _lock(campaign)
    if status != CampaignStatus.SENDING:
        report.stopped = status
        return False
    clock = time.perf_counter()
    now = timezone.now()
    if campaign.audience_frozen_at is None:
        campaign.recipients_count = audience_freeze(campaign)
        campaign.audience_frozen_at = now
        campaign.save(update_fields=["recipients_count", "audience_frozen_at"])
        report.timed("freeze audience", clock)
        return True  # committed on its own: the batches start from a frozen audience
    batch = preparer.take(campaign.fanout_cursor)
    for step, seconds in batch.timings.items():
        report.timings[step] = report.timings.get(step, 0.0) + seconds
    clock = report.timed("wait for the batch", clock)
    if batch.last is None:
        campaign.fanned_out_at = now
        campaign.recipients_count = campaign.queued_count + campaign.skipped_count
        campaign.save(update_fields=["fanned_out_at", "recipients_count"])
        CampaignAudience.objects.filter(campaign=campaign).delete()
        report.timed("clear audience", clock)
        report.done = True
        return True
    queued, skipped = _batch(campaign, batch, report)
    preparer.ahead(batch.last)  # the next batch, made while this one commits
    campaign.queued_count += queued
    campaign.skipped_count += skipped
    campaign.fanout_cursor = batch.last
    campaign.fanout_heartbeat = now
    campaign.save(
        update_fields=["queued_count", "skipped_count", "fanout_cursor", "fanout_heartbeat"]
    )
    if queued:
        wake_after_commit(campaign.channel_id)
    report.queued += queued
    report.skipped += skipped
    report.batches += 1
    return True


# Messages of a campaign that may still go: while any is left, the campaign is sending.
OPEN_STATUSES = (Status.QUEUED, Status.SENDING, HELD)


def campaign_messages(campaign: Campaign) -> QuerySet[Message]:
    """The campaign's messages (test sends excluded: they have no recipient row)."""
    return Message.objects.filter(
        id__in=CampaignRecipient.objects.filter(campaign=campaign, message__isnull=False).values(
            "message_id"
        )
    )


def campaign_settle(campaign: Campaign) -> bool:
    """Mark a sending campaign `sent` once it is fanned out and nothing is left to go."""
    if campaign.status != CampaignStatus.SENDING or campaign.fanned_out_at is None:
        return False
    if campaign_messages(campaign).filter(status__in=OPEN_STATUSES).exists():
        return False
    now = timezone.now()
    updated = Campaign.objects.filter(id=campaign.id, status=CampaignStatus.SENDING).update(
        status=CampaignStatus.SENT, finished_at=now, updated_at=now
    )
    if updated:
        campaign.status, campaign.finished_at = CampaignStatus.SENT, now
    return bool(updated)


def _lock(campaign: Campaign) -> str:
    """Lock the campaign row for this batch and read its current state."""
    fresh = (
        Campaign.objects.select_for_update()
        .filter(id=campaign.id)
        .values(
            "status",
            "fanned_out_at",
            "audience_frozen_at",
            "fanout_cursor",
            "recipients_count",
            "queued_count",
            "skipped_count",
        )
        .get()
    )
    for name, value in fresh.items():
        setattr(campaign, name, value)
    return str(fresh["status"])


def _attributes(campaign: Campaign) -> set[str]:
    """Attribute names the text uses: checked when it was saved, so trusted here."""
    return {p.name for p in placeholders(campaign.body) if p.name not in CONTACT_VARIABLES}
