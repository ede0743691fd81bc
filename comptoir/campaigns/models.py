"""Campaigns: one marketing text to an audience, its recipients, short links and clicks.

Campaign states and what moves them:

    draft ──schedule──▶ scheduled ──its time──┐
      │                                       ▼
      └──────────launch now──────────────▶ sending ──fan-out done, nothing queued──▶ sent
                                            │  ▲
                                      pause │  │ resume
                                            ▼  │
                                           paused
    draft / scheduled / sending / paused ──cancel──▶ cancelled

`sending` covers both the fan-out (each contact of the audience gets a recipient row,
`queued` with its message or `skipped` with the reason) and the dispatcher working
through the queue at the channel's rate.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact, Tag
from comptoir.core.models import BaseModel, WorkspaceManager
from comptoir.messaging.models import Message
from comptoir.segments.models import Segment
from comptoir.workspaces.models import Workspace


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    PAUSED = "paused", _("Paused")
    CANCELLED = "cancelled", _("Cancelled")
    SENT = "sent", _("Sent")


class AudienceKind(models.TextChoices):
    ALL = "all", _("All contacts")
    TAG = "tag", _("Contacts with a tag")
    SEGMENT = "segment", _("A saved segment")


class Campaign(BaseModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=120)
    body = models.TextField(help_text=_("The text, with {first_name|default} placeholders."))
    # Campaigns are marketing by nature: consent, window, cap and opt-out mention apply.
    purpose = models.CharField(max_length=16, default="marketing", editable=False)
    audience_kind = models.CharField(
        max_length=8, choices=AudienceKind.choices, default=AudienceKind.ALL
    )
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # PROTECT: a segment a campaign was sent to stays (segments refuse the deletion).
    segment = models.ForeignKey(
        Segment, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns"
    )
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="campaigns")
    status = models.CharField(
        max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    # When every recipient was decided (queued or skipped).
    fanned_out_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the audience was frozen into CampaignAudience (the fan-out's first step).
    audience_frozen_at = models.DateTimeField(null=True, blank=True)
    # The last contact id the fan-out decided: the next batch starts after it.
    fanout_cursor = models.UUIDField(null=True, blank=True)
    # Written by each fan-out batch: a sending campaign whose fan-out went quiet lost its worker.
    fanout_heartbeat = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Counters kept by the fan-out (the message states are read live from the messages);
    # recipients_count is the audience's size at launch, then the exact count once done.
    recipients_count = models.PositiveIntegerField(default=0)
    queued_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)

    objects = WorkspaceManager["Campaign"]()

    class Meta:
        indexes = [
            models.Index(
                fields=["status", "scheduled_at"],
                condition=Q(status__in=["scheduled", "sending"]),
                name="campaign_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RecipientStatus(models.TextChoices):
    QUEUED = "queued", _("Message created")
    SKIPPED = "skipped", _("Skipped")  # refused by compliance: code and sentence kept


class CampaignRecipient(models.Model):
    """One contact of a launched campaign; never two rows for the same contact."""

    # No index of its own: the unique (campaign, contact) index starts with it. No
    # database constraint either (see comptoir.core.models).
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="recipients",
        db_index=False,
        db_constraint=False,
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=8, choices=RecipientStatus.choices)
    skip_code = models.CharField(max_length=40, blank=True)
    skip_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "contact"], name="campaign_recipient_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} → {self.contact_id} ({self.status})"


class CampaignAudience(models.Model):
    """The audience of a sending campaign, frozen at launch: the contacts still to decide.

    Written by one INSERT … SELECT of the segment's query, read by the fan-out in key
    order (the primary key is the index it walks), deleted once the fan-out is done.
    """

    pk = models.CompositePrimaryKey("campaign", "contact")
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"{self.campaign_id} → {self.contact_id}"


class CampaignTestSend(models.Model):
    """A campaign's text sent to a staff number before launch (not counted in results)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="test_sends")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"test of {self.campaign_id} at {self.at}"


class ShortLink(models.Model):
    """A per-recipient link `/l/<code>` standing for one URL of a campaign's text.

    Only codes stored here resolve, to the URL checked when the text was written: the
    redirect can never be pointed elsewhere (no open redirect).
    """

    code = models.CharField(max_length=16)  # unique: see Meta (no pattern-matching index)
    # Unindexed: links are found by code, campaign or contact, never by workspace alone.
    # Neither reference is checked by the database per row (see comptoir.core.models).
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="links", db_constraint=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="campaign_links"
    )
    url = models.URLField(max_length=2000)
    is_test = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        # A constraint rather than unique=True, which on PostgreSQL adds a second index
        # for LIKE queries that nothing runs (one more write per link).
        constraints = [models.UniqueConstraint(fields=["code"], name="shortlink_code_unique")]

    def __str__(self) -> str:
        return self.code


class AgentClass(models.TextChoices):
    MOBILE = "mobile", _("Phone")
    DESKTOP = "desktop", _("Computer")
    # Link previews (messaging apps, mail scanners) open links nobody clicked.
    BOT = "bot", _("Preview or robot")
    OTHER = "other", _("Other")


class LinkClick(models.Model):
    link = models.ForeignKey(ShortLink, on_delete=models.CASCADE, related_name="clicks")
    at = models.DateTimeField()
    agent_class = models.CharField(max_length=8, choices=AgentClass.choices)

    class Meta:
        indexes = [models.Index(fields=["link", "at"], name="link_click_idx")]

    def __str__(self) -> str:
        return f"{self.link_id} at {self.at}"
