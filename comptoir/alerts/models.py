"""Urgent alerts: a message the customer must acknowledge, followed up until they do.

A rule's `AlertPolicy` says how (SMS reply or a call with keys), how long to wait and
whom to alert; an `Alert` is one such message to one customer, with its settings copied
so a later change of the policy does not move alerts already running.

    pending ──"1"──▶ acknowledged          (the customer confirmed)
       │  └──"2"──▶ reported               (a problem: staff alerted at once)
       ├──no answer after N min, attempts left──▶ pending (sent again)
       └──no answer, no attempt left──▶ escalated (staff alerted)
    escalated ──"1" / "2"──▶ acknowledged / reported
    pending, escalated, reported ──staff──▶ closed
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from comptoir.automations.models import AutomationRule, ScheduledRun
from comptoir.contacts.models import Contact
from comptoir.core.models import BaseModel, WorkspaceManager
from comptoir.inbox.models import Team
from comptoir.workspaces.models import Workspace

DEFAULT_ESCALATE_AFTER = 10
DEFAULT_MAX_ATTEMPTS = 2


class AlertMedium(models.TextChoices):
    SMS = "sms", _("Text: reply 1 to confirm, 2 to report a problem")
    VOICE = "voice", _("Call: press 1 to confirm, 2 to report a problem")


class AlertStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for an answer")
    ACKNOWLEDGED = "acknowledged", _("Confirmed")
    REPORTED = "reported", _("Problem reported")
    ESCALATED = "escalated", _("Escalated to staff")
    CLOSED = "closed", _("Closed")


# Alerts a customer's answer still applies to, and those staff still have to look at.
ANSWERABLE = (AlertStatus.PENDING, AlertStatus.ESCALATED)
OPEN = (AlertStatus.PENDING, AlertStatus.ESCALATED, AlertStatus.REPORTED)


class EscalationSettings(models.Model):
    """How an alert is followed up: shared by the policy and the alerts it starts."""

    medium = models.CharField(max_length=8, choices=AlertMedium.choices, default=AlertMedium.SMS)
    escalate_after_minutes = models.PositiveIntegerField(default=DEFAULT_ESCALATE_AFTER)
    max_attempts = models.PositiveSmallIntegerField(default=DEFAULT_MAX_ATTEMPTS)
    escalate_team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Staff numbers (E.164) texted besides the team's members.
    escalate_numbers = models.JSONField(default=list, blank=True)
    # What staff are told; empty: the built-in text in the workspace's language.
    staff_message = models.TextField(blank=True)

    class Meta:
        abstract = True


class AlertPolicy(BaseModel, EscalationSettings):
    """An automation rule whose messages must be acknowledged."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    rule = models.OneToOneField(
        AutomationRule, on_delete=models.CASCADE, related_name="alert_policy"
    )
    ack_required = models.BooleanField(default=True)

    objects = WorkspaceManager["AlertPolicy"]()

    def __str__(self) -> str:
        return f"alert policy of {self.rule}"


class Alert(BaseModel, EscalationSettings):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    policy = models.ForeignKey(
        AlertPolicy, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    run = models.OneToOneField(
        ScheduledRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="alert"
    )
    # The caller's id for an alert posted to the API: the same id again is the same alert.
    external_id = models.CharField(max_length=100, blank=True)
    body = models.TextField()
    status = models.CharField(
        max_length=12, choices=AlertStatus.choices, default=AlertStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the escalation pass looks at it next (pending alerts only).
    next_check_at = models.DateTimeField(null=True, blank=True)
    answer = models.CharField(max_length=160, blank=True)  # the reply's text, or the keys
    answered_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The messages sent to the customer, attempt after attempt (ids as strings).
    message_ids = models.JSONField(default=list, blank=True)

    objects = WorkspaceManager["Alert"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=~Q(external_id=""),
                name="alert_external_unique",
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_check_at"], name="alert_due_idx"),
            models.Index(fields=["workspace", "contact", "status"], name="alert_contact_idx"),
            models.Index(fields=["workspace", "status", "created_at"], name="alert_list_idx"),
        ]

    def __str__(self) -> str:
        return f"alert to {self.contact} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN
