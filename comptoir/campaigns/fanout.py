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

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.campaigns.audience import campaign_audience
from comptoir.campaigns.links import new_codes
from comptoir.campaigns.models import (
    Campaign,
    CampaignAudience,
    CampaignRecipient,
    CampaignStatus,
    RecipientStatus,
    ShortLink,
)
from comptoir.campaigns.personalise import CONTACT_VARIABLES, Personaliser, text_compile
from comptoir.compliance.decisions import Candidate, Refusal
from comptoir.compliance.policy import Context, policy_for_workspace, refusals
from comptoir.core.bulk import convert, insert_rows
from comptoir.core.ids import uuid7
from comptoir.dispatch.claims import TRANSITION_COLUMNS
from comptoir.dispatch.wakeup import wake_after_commit
from comptoir.messaging.models import PRIORITY, Message, MessageTransition, Purpose, Status
from comptoir.messaging.templating import placeholders

log = logging.getLogger(__name__)

BATCH = 5000
# A paused campaign's messages wait in this status, out of the dispatcher's reach (it
# claims `queued` only); resuming puts them back. See docs/campaigns.md.
HELD = Status.HELD
CAMPAIGN_KIND = "campaign"
_MESSAGE_FIELDS = list(Message._meta.concrete_fields)
MESSAGE_COLUMNS = tuple(f.attname for f in _MESSAGE_FIELDS)
RECIPIENT_COLUMNS = (
    "campaign_id",
    "contact_id",
    "message_id",
    "status",
    "skip_code",
    "skip_reason",
)
LINK_COLUMNS = ("code", "workspace_id", "campaign_id", "contact_id", "url", "is_test", "created_at")


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


def _next_contacts(
    campaign: Campaign, personaliser: Personaliser, size: int
) -> list[dict[str, Any]]:
    """The next `size` contacts of the frozen audience after the cursor, with what the
    text needs (one range scan of the audience's key, joined to the contacts)."""
    fields = ["contact_id", "contact__phone", "contact__number_type", "contact__timezone"]
    fields += [f"contact__{name}" for name in personaliser.compiled.columns]
    if personaliser.compiled.attributes:
        fields.append("contact__attributes")
    entries = CampaignAudience.objects.filter(campaign=campaign)
    if campaign.fanout_cursor is not None:
        entries = entries.filter(contact_id__gt=campaign.fanout_cursor)
    rows = entries.order_by("contact_id").values(*dict.fromkeys(fields))[:size]
    return [
        {("id" if k == "contact_id" else k.removeprefix("contact__")): v for k, v in row.items()}
        for row in rows
    ]


TOO_LONG = "too_long"


def _batch(
    campaign: Campaign,
    personaliser: Personaliser,
    rows: list[dict[str, Any]],
    now: dt.datetime,
    report: FanoutReport,
) -> tuple[int, int]:
    """Decide, fill and write one batch (the caller holds the transaction)."""
    clock = time.perf_counter()
    workspace = campaign.workspace
    channel = campaign.channel
    candidates = [
        Candidate(
            key=row["id"],
            scheme=channel.scheme,
            number_type=row["number_type"] or "unknown",
            purpose=Purpose.MARKETING,
            contact_id=row["id"],
            kind=CAMPAIGN_KIND,
            phone=row["phone"],
            workspace_id=workspace.id,
            send_at=now,
            contact_tz=row["timezone"] or "",
        )
        for row in rows
    ]
    found = refusals(candidates, Context(workspace=workspace, stage="create", now=now))
    clock = report.timed("compliance", clock)
    cap = workspace.segment_cap
    too_long = Refusal(
        TOO_LONG,
        _("With this customer's details the text would take more than %(cap)d SMS.") % {"cap": cap},
    )
    urls = [u.url for u in personaliser.compiled.urls]
    links_per = len(urls)
    going = [r for r in rows if (r["id"] not in found or found[r["id"]].until is not None)]
    codes = iter(new_codes(links_per * len(going)))
    defaults = {f.attname: f.get_default() for f in _MESSAGE_FIELDS}
    defaults.update(
        workspace_id=workspace.id,
        channel_id=channel.id,
        created_at=now,
        updated_at=now,
        purpose=Purpose.MARKETING,
        priority=PRIORITY[Purpose.MARKETING],
        status=Status.QUEUED,
        kind=CAMPAIGN_KIND,
    )
    messages: list[list[Any]] = []
    transitions: list[tuple[Any, ...]] = []
    links: list[tuple[Any, ...]] = []
    recipients: list[tuple[Any, ...]] = []
    for row in rows:
        refusal = found.get(row["id"])
        if refusal is not None and refusal.until is None:
            recipients.append(
                (
                    campaign.id,
                    row["id"],
                    None,
                    RecipientStatus.SKIPPED,
                    refusal.code,
                    refusal.reason,
                )
            )
            continue
        filled = personaliser.fill(personaliser.values_of(row))
        if filled.segments > cap:
            recipients.append(
                (campaign.id, row["id"], None, RecipientStatus.SKIPPED, TOO_LONG, too_long.reason)
            )
            continue
        own = [next(codes) for _i in range(links_per)]
        message_id = uuid7()
        code, reason = (refusal.code, refusal.reason) if refusal else ("", "")
        values = dict(
            defaults,
            id=message_id,
            contact_id=row["id"],
            address=row["phone"],
            body=personaliser.with_links(filled.text, own) if own else filled.text,
            send_at=refusal.until if refusal else now,
            encoding=filled.encoding,
            segments=filled.segments,
            error_code=code,
            error_reason=reason,
        )
        messages.append([values[c] for c in MESSAGE_COLUMNS])
        transitions.append((message_id, Status.QUEUED, now, code, reason))
        links += [
            (c, workspace.id, campaign.id, row["id"], url, False, now)
            for c, url in zip(own, urls, strict=True)
        ]
        recipients.append((campaign.id, row["id"], message_id, RecipientStatus.QUEUED, "", ""))
    clock = report.timed("personalise", clock)
    # First: a contact some other run already decided fails here, before anything else.
    insert_rows(CampaignRecipient, RECIPIENT_COLUMNS, recipients)
    clock = report.timed("write recipients", clock)
    insert_rows(Message, MESSAGE_COLUMNS, messages)
    insert_rows(MessageTransition, TRANSITION_COLUMNS, transitions)
    clock = report.timed("write messages", clock)
    insert_rows(ShortLink, LINK_COLUMNS, links)
    report.timed("write links", clock)
    return len(messages), len(rows) - len(messages)


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
    while not report.done:
        for attempt in range(3):
            try:
                with transaction.atomic():
                    if not _fanout_batch(campaign, personaliser, batch, report):
                        return report
                break
            except IntegrityError:
                # Two random link codes collided, or another run decided one of these
                # contacts: the batch rolled back whole; take it again from the cursor.
                if attempt == 2:
                    raise
                log.warning("campaign %s: fan-out batch retried after a conflict", campaign.id)
    campaign_settle(campaign)
    return report


def _fanout_batch(
    campaign: Campaign, personaliser: Personaliser, size: int, report: FanoutReport
) -> bool:
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
    rows = _next_contacts(campaign, personaliser, size)
    clock = report.timed("read audience", clock)
    if not rows:
        campaign.fanned_out_at = now
        campaign.recipients_count = campaign.queued_count + campaign.skipped_count
        campaign.save(update_fields=["fanned_out_at", "recipients_count"])
        CampaignAudience.objects.filter(campaign=campaign).delete()
        report.timed("clear audience", clock)
        report.done = True
        return True
    queued, skipped = _batch(campaign, personaliser, rows, now, report)
    campaign.queued_count += queued
    campaign.skipped_count += skipped
    campaign.fanout_cursor = rows[-1]["id"]
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
