"""Messages: the outbox and the inbound log, with their state machine.

Outbound states and what moves them:

    queued ──claim+send──▶ sending ──provider accepts──▶ sent ──receipt──▶ delivered
      ▲  │                   │  │                          │
      │  │ retry later       │  └─provider refuses────▶ failed ◀──receipt (undelivered)
      │  │ (temporary error) │
      └──┼───────────────────┘   a send whose fate is unknown after a crash ─▶ unknown
         └─compliance refuses ─▶ blocked (reason code + sentence)

- `queued`: waiting for its `send_at`; a dispatcher may hold a short claim on it
  (`claim_token`, `claimed_until`), which is not a state: a lost claim simply expires.
- `sending`: handed to the provider, answer not yet recorded. A crash here is settled
  by the reaper: re-sent only when the provider deduplicates our reference, else
  looked up, else marked `unknown` — never blindly sent twice.
- `sent` → `delivered` / `failed` by delivery receipts.
Inbound messages are `received`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact
from comptoir.core.models import BaseModel, WorkspaceManager
from comptoir.workspaces.models import Workspace


class Direction(models.TextChoices):
    OUT = "out", _("Outgoing")
    IN = "in", _("Incoming")


class Purpose(models.TextChoices):
    TRANSACTIONAL = "transactional", _("Transactional")
    CONVERSATIONAL = "conversational", _("Conversational")
    MARKETING = "marketing", _("Marketing")


# Lower goes first: a one-time code never waits behind a campaign.
PRIORITY = {Purpose.TRANSACTIONAL: 0, Purpose.CONVERSATIONAL: 1, Purpose.MARKETING: 2}


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    BLOCKED = "blocked", _("Blocked")
    UNKNOWN = "unknown", _("Unknown")
    RECEIVED = "received", _("Received")
    HELD = "held", _("Held (campaign paused)")  # not claimed until resumed


FINAL_STATUSES = frozenset({Status.DELIVERED, Status.FAILED, Status.BLOCKED})


class Medium(models.TextChoices):
    """How a message reaches the customer on its channel: written, or read aloud in a call."""

    TEXT = "text", _("Text")
    VOICE = "voice", _("Voice call")


class Message(BaseModel):
    # No single-column index on workspace or channel: message_contact_idx and
    # message_provider_idx start with them (each index is one more write per message).
    # No database constraint either (see comptoir.core.models).
    workspace = models.ForeignKey(
        Workspace,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
        db_constraint=False,
    )
    channel = models.ForeignKey(
        Channel,
        on_delete=models.PROTECT,
        related_name="messages",
        db_index=False,
        db_constraint=False,
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="messages", null=True, blank=True
    )
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.OUT)
    # The customer's side: the recipient of an outgoing message, the sender of an incoming one.
    address = models.CharField(max_length=200)
    body = models.TextField()
    # Email only; texts and calls have none (also for rows written without the column).
    subject = models.CharField(max_length=200, blank=True, default="", db_default="")
    purpose = models.CharField(
        max_length=16, choices=Purpose.choices, default=Purpose.CONVERSATIONAL
    )
    # A voice message is a call on a phone channel whose provider can place calls: its body
    # is read aloud (text-to-speech), then `gather_digits` keys are listened for.
    medium = models.CharField(
        max_length=8, choices=Medium.choices, default=Medium.TEXT, db_default=Medium.TEXT
    )
    gather_digits = models.PositiveSmallIntegerField(default=0, db_default=0)
    priority = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    send_at = models.DateTimeField()
    # NULL, not "": the unique constraint must ignore messages sent without a key.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    request_hash = models.CharField(max_length=64, blank=True)
    encoding = models.CharField(max_length=8, blank=True)
    segments = models.PositiveSmallIntegerField(default=0)
    provider_id = models.CharField(max_length=100, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_reason = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # What sent it when it is not an ordinary message: "opt_out_confirmation", "help_reply".
    kind = models.CharField(max_length=24, blank=True)
    # The staff member who wrote it, for replies from the inbox.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # message_author_idx: only the rows that have one
    )
    # Not indexed: every statement checking a claim names its rows by id (one index fewer
    # to write at every claim).
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceManager["Message"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="message_idempotency_unique",
            ),
            # A webhook delivered twice stores one message.
            models.UniqueConstraint(
                fields=["channel", "provider_id"],
                condition=Q(direction="in") & ~Q(provider_id=""),
                name="message_inbound_provider_unique",
            ),
        ]
        indexes = [
            # The dispatcher's claim: due queued messages of a channel, by priority.
            models.Index(
                fields=["channel", "priority", "send_at"],
                condition=Q(status="queued"),
                name="message_due_idx",
            ),
            models.Index(
                fields=["status", "sending_at"],
                condition=Q(status="sending"),
                name="message_sending_idx",
            ),
            models.Index(fields=["channel", "provider_id"], name="message_provider_idx"),
            models.Index(
                fields=["author"], condition=Q(author__isnull=False), name="message_author_idx"
            ),
            models.Index(fields=["workspace", "contact", "created_at"], name="message_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.address} {self.status}"


class MessageTransition(models.Model):
    """One row per state change: the message's history, with the reason when there is one."""

    # Indexed by (message, at) below, which serves look-ups by message alone too.
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="transitions", db_index=False
    )
    status = models.CharField(max_length=10, choices=Status.choices)
    at = models.DateTimeField()
    code = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["message", "at"])]

    def __str__(self) -> str:
        return f"{self.status} at {self.at}"


# The columns of a transition row, in the order the bulk writers give them.
TRANSITION_COLUMNS = ("message_id", "status", "at", "code", "reason")


class CallEvent(models.Model):
    """What happened during a voice message's call: its end (`status`) or keys pressed.

    Written from the provider's `call_status` / `call_keypress` events; one row per event
    (a webhook delivered twice is stored once).
    """

    STATUS = "status"
    KEYPRESS = "keypress"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="call_events")
    kind = models.CharField(max_length=8, choices=[(STATUS, "status"), (KEYPRESS, "keypress")])
    status = models.CharField(max_length=16, blank=True)  # the provider's: completed, busy…
    digits = models.CharField(max_length=32, blank=True)
    provider_id = models.CharField(max_length=100)
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["message", "provider_id"], name="call_event_provider_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.status or self.digits} at {self.at}"


class PendingReceipt(models.Model):
    """A delivery receipt that came before we recorded the provider's id for its message.

    Providers may call back before their own send request has answered us; the receipt
    waits here and is applied as soon as the id is recorded (or by the reaper's tick).
    """

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    provider_id = models.CharField(max_length=100)
    status = models.CharField(max_length=10)
    error_code = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True)
    received_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["channel", "provider_id"], name="pending_receipt_idx")]

    def __str__(self) -> str:
        return f"{self.provider_id} {self.status}"
