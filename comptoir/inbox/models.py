"""The shared inbox: one conversation per customer (or per staff team), its notes and calls,
the shop's saved replies and auto-answers, and the inbox's settings.

A conversation's thread is not copied anywhere: it is the customer's messages (every
channel, every origin: replies, reminders, campaigns) plus the conversation's events
(notes, calls, assignments), merged by time.

Status: `open` needs an answer from the shop; `waiting` has been answered and waits for
the customer; `closed` is done. A customer's new message reopens it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact
from comptoir.core.models import BaseModel, WorkspaceManager
from comptoir.inbox.hours import default_hours
from comptoir.workspaces.models import Workspace

FLAG_LENGTH = 120  # Conversation.flag: longer reasons are cut


class ConversationStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WAITING = "waiting", _("Waiting for the customer")
    CLOSED = "closed", _("Closed")


class Team(BaseModel):
    """A group of employees reached by text (shift changes, absences)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)

    objects = WorkspaceManager["Team"]()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="team_unique")]

    def __str__(self) -> str:
        return self.name


class TeamMember(BaseModel):
    """An employee's phone number in a team; the number is a contact of the workspace."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="team_members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "contact"], name="team_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.contact} in {self.team}"


class Conversation(BaseModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="conversations")
    # Exactly one of: a customer, a staff team, or a sender that cannot be answered
    # (an alphanumeric name such as "AMAZON").
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="conversations"
    )
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, related_name="conversations"
    )
    sender = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=8, choices=ConversationStatus.choices, default=ConversationStatus.OPEN
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
    )
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_preview = models.CharField(max_length=160, blank=True)
    last_direction = models.CharField(max_length=3, blank=True)
    # Customer messages since the shop last answered, the oldest one's time, and those
    # no staff member has opened yet.
    unanswered = models.PositiveIntegerField(default=0)
    waiting_since = models.DateTimeField(null=True, blank=True)
    unread = models.PositiveIntegerField(default=0)
    # What the priority score is made of (see comptoir.inbox.priority).
    vip = models.BooleanField(default=False)
    urgent_word = models.CharField(max_length=64, blank=True)
    # Why the system put the conversation on top ("Survey score 2/5", an escalated alert):
    # shown as it is, worth an urgent word's points; cleared when the shop answers.
    flag = models.CharField(max_length=FLAG_LENGTH, blank=True)
    score_base = models.PositiveIntegerField(default=0)
    # waiting_since moved back by the base points' worth of waiting: sorting on it
    # ascending sorts open conversations by score, with a plain index.
    rank_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceManager["Conversation"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "contact"],
                condition=Q(contact__isnull=False),
                name="conversation_contact_unique",
            ),
            models.UniqueConstraint(
                fields=["workspace", "team"],
                condition=Q(team__isnull=False),
                name="conversation_team_unique",
            ),
            models.UniqueConstraint(
                fields=["workspace", "sender"],
                condition=~Q(sender=""),
                name="conversation_sender_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "status", "rank_at"], name="conversation_rank_idx"),
            models.Index(
                fields=["workspace", "status", "last_message_at"], name="conversation_recent_idx"
            ),
            models.Index(fields=["workspace", "assignee", "status"], name="conversation_mine_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        if self.contact is not None:
            return self.contact.display_name
        if self.team is not None:
            return str(self.team)
        return self.sender

    @property
    def replyable(self) -> bool:
        return self.sender == ""


class EventKind(models.TextChoices):
    NOTE = "note", _("Internal note")
    CALL_MISSED = "call_missed", _("Missed call")
    CALL_ANSWERED = "call_answered", _("Call")
    ASSIGNED = "assigned", _("Assigned")
    STATUS = "status", _("Status changed")
    CONTACT = "contact", _("Customer details changed")


class ConversationEvent(models.Model):
    """What happens in a conversation that is not a message; notes are never sent."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    # Calls: the channel they came on and the provider's id, so a repeated webhook is one call.
    channel = models.ForeignKey(Channel, on_delete=models.SET_NULL, null=True, blank=True)
    provider_id = models.CharField(max_length=100, blank=True)
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "provider_id"],
                condition=~Q(provider_id=""),
                name="conversation_event_provider_unique",
            )
        ]
        indexes = [models.Index(fields=["conversation", "at"], name="conversation_event_idx")]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at}"


class SavedReply(BaseModel):
    """A reply staff insert in one click; `{first_name}` and the like are filled in."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="saved_replies")
    title = models.CharField(max_length=100)
    body = models.TextField()

    objects = WorkspaceManager["SavedReply"]()

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class AutoAnswer(BaseModel):
    """A customer's question answered automatically: HORAIRES, ADRESSE, COMMANDE…

    `keywords` are words or phrases, matched as whole words anywhere in the message,
    ignoring case and accents. `topic` "order_status" fills {order_status} from the
    customer's latest order event.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="auto_answers")
    name = models.CharField(max_length=100)
    keywords = models.JSONField(default=list)
    answer = models.TextField()
    topic = models.CharField(max_length=24, blank=True)
    enabled = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    objects = WorkspaceManager["AutoAnswer"]()

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class InboxSettings(models.Model):
    """Per-workspace settings of the inbox and the phone line; created with defaults."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, primary_key=True, related_name="inbox_settings"
    )
    # Missed-call text-back: empty texts take the language's default.
    textback_enabled = models.BooleanField(default=True)
    textback_open = models.TextField(blank=True)
    textback_closed = models.TextField(blank=True)
    textback_period_hours = models.PositiveSmallIntegerField(default=24)
    # {"mon": [["09:00", "12:30"], ["14:00", "19:00"]], ...}; days missing are closed.
    opening_hours = models.JSONField(default=default_hours, blank=True)
    # Words that make a conversation urgent, per language, on top of the built-in ones.
    urgent_words = models.JSONField(default=dict, blank=True)
    vip_tag = models.CharField(max_length=64, default="vip")
    auto_answers_enabled = models.BooleanField(default=True)
    # The shop's details, said by auto-answers ({address}, {phone}, {website}).
    shop_address = models.CharField(max_length=300, blank=True)
    shop_phone = models.CharField(max_length=40, blank=True)
    website = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"inbox settings of {self.workspace}"
