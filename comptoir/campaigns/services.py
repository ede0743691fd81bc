"""Writes on campaigns: save a draft, test it, launch or schedule it, pause, resume, cancel.

Every interface (owner pages, API, tasks) calls these. Errors name the field and say why.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.campaigns.audience import audience_queryset, campaign_audience
from comptoir.campaigns.composer import composer_compile
from comptoir.campaigns.fanout import HELD, campaign_messages
from comptoir.campaigns.links import new_codes
from comptoir.campaigns.models import (
    AudienceKind,
    Campaign,
    CampaignAudience,
    CampaignStatus,
    CampaignTestSend,
    ShortLink,
)
from comptoir.campaigns.personalise import Personaliser
from comptoir.channels.models import Channel, ChannelStatus
from comptoir.compliance.policy import policy_for_workspace
from comptoir.contacts.models import Contact, Tag
from comptoir.contacts.phones import parse_phone
from comptoir.core.bulk import insert_rows
from comptoir.core.errors import Conflict, ValidationError
from comptoir.dispatch.wakeup import wake_after_commit
from comptoir.messaging.models import (
    TRANSITION_COLUMNS,
    Message,
    MessageTransition,
    Purpose,
    Status,
)
from comptoir.messaging.outbox import SendRequest, default_channel, messages_send
from comptoir.segments.models import Segment
from comptoir.workspaces.models import Workspace

TEST_KIND = "campaign_test"
MAX_TEST_NUMBERS = 5
CANCELLED_CODE = "campaign_cancelled"
EDITABLE = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)


def _channel(workspace: Workspace, channel_id: uuid.UUID | str | None) -> Channel:
    if not channel_id:
        return default_channel(workspace, "sms", field="channel")
    channel = Channel.objects.for_workspace(workspace).filter(id=channel_id).first()
    if channel is None:
        raise ValidationError(_("No such channel in this workspace."), field="channel")
    if channel.scheme != "sms":
        raise ValidationError(
            _("Campaigns go by text message: %(name)s sends %(scheme)s.")
            % {"name": channel.name, "scheme": channel.scheme},
            field="channel",
        )
    return channel


def campaign_save(
    *,
    workspace: Workspace,
    name: str,
    body: str,
    audience_kind: str = AudienceKind.ALL,
    tag: Tag | None = None,
    segment: Segment | None = None,
    channel_id: uuid.UUID | str | None = None,
    campaign: Campaign | None = None,
    actor: Any = None,
) -> Campaign:
    """Create a draft, or change one not launched yet; the text is checked first."""
    if campaign is not None and campaign.status not in EDITABLE:
        raise Conflict(_("A launched campaign cannot be changed."), field="status")
    name = name.strip()
    if not name:
        raise ValidationError(_("Give the campaign a name."), field="name")
    composer_compile(workspace, body)
    audience_queryset(workspace=workspace, kind=audience_kind, tag=tag, segment=segment)
    channel = _channel(workspace, channel_id)
    campaign = campaign or Campaign(workspace=workspace, created_by=actor)
    campaign.name, campaign.body, campaign.channel = name, body, channel
    campaign.audience_kind, campaign.tag = audience_kind, tag if audience_kind == "tag" else None
    campaign.segment = segment if audience_kind == "segment" else None
    campaign.save()
    return campaign


def _launch_checks(campaign: Campaign) -> int:
    """What makes a campaign impossible to send, each refused with its reason."""
    if campaign.status not in EDITABLE:
        raise Conflict(
            _("This campaign is %(status)s: it cannot be launched again.")
            % {"status": campaign.get_status_display()},
            field="status",
        )
    composer_compile(campaign.workspace, campaign.body)
    if campaign.channel.status == ChannelStatus.DISABLED:
        raise ValidationError(
            _("Channel %(name)s is disabled.") % {"name": campaign.channel.name}, field="channel"
        )
    size = campaign_audience(campaign).count()
    if not size:
        raise ValidationError(
            _("This audience has no one in it: there is nobody to send to."), field="audience"
        )
    return size


def campaign_launch(
    *, campaign: Campaign, at: dt.datetime | None = None, actor: Any = None
) -> Campaign:
    """Launch now (`at` None) or schedule for `at`; the fan-out runs in a background task."""
    size = _launch_checks(campaign)
    now = timezone.now()
    if at is not None:
        if timezone.is_naive(at):
            raise ValidationError(
                _("The time needs a time zone (e.g. 2026-12-01T10:00:00+01:00)."),
                field="scheduled_at",
            )
        if at <= now:
            raise ValidationError(
                _("%(at)s is in the past: choose a later time, or launch now.")
                % {"at": timezone.localtime(at, campaign.workspace.tz).strftime("%d/%m/%Y %H:%M")},
                field="scheduled_at",
            )
    from comptoir.campaigns.tasks import campaign_fanout_task

    with transaction.atomic():
        changes: dict[str, Any] = {"updated_at": now, "recipients_count": size}
        if at is None:
            changes.update(status=CampaignStatus.SENDING, launched_at=now, scheduled_at=None)
        else:
            changes.update(status=CampaignStatus.SCHEDULED, scheduled_at=at)
        updated = Campaign.objects.filter(id=campaign.id, status__in=EDITABLE).update(**changes)
        if not updated:
            raise Conflict(_("This campaign was launched meanwhile."), field="status")
        for name, value in changes.items():
            setattr(campaign, name, value)
        if at is None:
            transaction.on_commit(partial(campaign_fanout_task, str(campaign.id)), robust=True)
        else:
            transaction.on_commit(
                partial(campaign_fanout_task.schedule, args=(str(campaign.id),), eta=at),
                robust=True,
            )
    return campaign


def campaign_start_due(*, now: dt.datetime | None = None) -> list[uuid.UUID]:
    """Scheduled campaigns whose time has come become `sending`; returns their ids."""
    now = now or timezone.now()
    due = list(
        Campaign.objects.filter(status=CampaignStatus.SCHEDULED, scheduled_at__lte=now).values_list(
            "id", flat=True
        )
    )
    started = []
    for campaign_id in due:
        if Campaign.objects.filter(id=campaign_id, status=CampaignStatus.SCHEDULED).update(
            status=CampaignStatus.SENDING, launched_at=now, updated_at=now
        ):
            started.append(campaign_id)
    return started


def _set_messages(campaign: Campaign, old: Sequence[str], new: str, code: str, reason: str) -> int:
    """Move the campaign's messages in `old` statuses to `new`, with a transition each."""
    now = timezone.now()
    ids = list(campaign_messages(campaign).filter(status__in=old).values_list("id", flat=True))
    if not ids:
        return 0
    changes: dict[str, Any] = {"status": new, "claim_token": None, "claimed_until": None}
    if new == Status.BLOCKED:
        changes.update(failed_at=now, error_code=code, error_reason=reason)
    moved = 0
    chunk = 10_000 if connection.vendor == "sqlite" else 200_000
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        # Only rows still in `old`: one the dispatcher took meanwhile is its to finish.
        moved += Message.objects.filter(id__in=part, status__in=old).update(**changes)
        insert_rows(
            MessageTransition,
            TRANSITION_COLUMNS,
            [(i, new, now, code, reason) for i in part],
        )
    return moved


def campaign_pause(*, campaign: Campaign) -> int:
    """Stop sending: the fan-out stops between batches and queued messages are held."""
    with transaction.atomic():
        if not Campaign.objects.filter(id=campaign.id, status=CampaignStatus.SENDING).update(
            status=CampaignStatus.PAUSED, updated_at=timezone.now()
        ):
            raise Conflict(_("Only a campaign that is sending can be paused."), field="status")
        campaign.status = CampaignStatus.PAUSED
        return _set_messages(
            campaign, [Status.QUEUED], HELD, "campaign_paused", _("The campaign is paused.")
        )


def campaign_resume(*, campaign: Campaign) -> int:
    """Send again: held messages go back to the queue and the fan-out carries on."""
    from comptoir.campaigns.tasks import campaign_fanout_task

    with transaction.atomic():
        if not Campaign.objects.filter(id=campaign.id, status=CampaignStatus.PAUSED).update(
            status=CampaignStatus.SENDING, updated_at=timezone.now()
        ):
            raise Conflict(_("Only a paused campaign can be resumed."), field="status")
        campaign.status = CampaignStatus.SENDING
        moved = _set_messages(campaign, [HELD], Status.QUEUED, "", "")
        wake_after_commit(campaign.channel_id)
        transaction.on_commit(partial(campaign_fanout_task, str(campaign.id)), robust=True)
    return moved


def campaign_cancel(*, campaign: Campaign) -> int:
    """Stop for good: unsent messages are blocked with the reason, nobody new is added."""
    with transaction.atomic():
        if not Campaign.objects.filter(
            id=campaign.id,
            status__in=[*EDITABLE, CampaignStatus.SENDING, CampaignStatus.PAUSED],
        ).update(status=CampaignStatus.CANCELLED, updated_at=timezone.now()):
            raise Conflict(_("This campaign is already over."), field="status")
        campaign.status = CampaignStatus.CANCELLED
        reason = _("The campaign was cancelled before this message went.")
        # Nobody more: the contacts the fan-out had not reached get nothing.
        CampaignAudience.objects.filter(campaign=campaign).delete()
        moved = _set_messages(
            campaign, [Status.QUEUED, HELD], Status.BLOCKED, CANCELLED_CODE, reason
        )
    return moved


def campaign_test_send(
    *, campaign: Campaign, phones: Sequence[str], actor: Any = None
) -> list[Message]:
    """Send the campaign's text to staff numbers now, through the outbox and dispatcher.

    Each gets the text as a customer would (their own contact's values when the number
    is a contact, else the defaults), the sender's name and opt-out mention, and real
    short links (marked as tests: their clicks do not count). The messages are of kind
    `campaign_test` and conversational purpose, so no marketing consent, window or cap
    applies (an opt-out by that number still does), and results never count them.
    """
    phones = [p for p in (p.strip() for p in phones) if p]
    if not phones:
        raise ValidationError(_("Give at least one number to test on."), field="phones")
    if len(phones) > MAX_TEST_NUMBERS:
        raise ValidationError(
            _("At most %(n)d numbers per test.") % {"n": MAX_TEST_NUMBERS}, field="phones"
        )
    workspace = campaign.workspace
    parsed = [parse_phone(p, region=workspace.region, field="phones") for p in phones]
    compiled = composer_compile(workspace, campaign.body)
    personaliser = Personaliser(compiled, policy_for_workspace(workspace))
    known: dict[str, dict[str, Any]] = {
        c["phone"]: dict(c)
        for c in Contact.objects.for_workspace(workspace)
        .filter(phone__in=[p.e164 for p in parsed])
        .values("id", "phone", "first_name", "last_name", "attributes")
    }
    now = timezone.now()
    requests, links = [], []
    for phone in parsed:
        row = known.get(phone.e164, {})
        filled = personaliser.fill(personaliser.values_of(row))
        codes = new_codes(len(compiled.urls))
        links += [
            ShortLink(
                code=code,
                workspace=workspace,
                campaign=campaign,
                contact_id=row.get("id"),
                url=found.url,
                is_test=True,
                created_at=now,
            )
            for code, found in zip(codes, compiled.urls, strict=True)
        ]
        requests.append(
            SendRequest(
                phone.e164,
                personaliser.with_links(filled.text, codes),
                Purpose.CONVERSATIONAL,
                kind=TEST_KIND,
                channel=str(campaign.channel_id),
                author_id=getattr(actor, "id", None),
            )
        )
    with transaction.atomic():
        ShortLink.objects.bulk_create(links)
        sent = [r.message for r in messages_send(workspace=workspace, requests=requests)]
        CampaignTestSend.objects.bulk_create(
            CampaignTestSend(campaign=campaign, message=m, sent_by=actor, at=now) for m in sent
        )
    return sent
