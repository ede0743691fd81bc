"""Appointments the shop's booking software tells us about (reminders build on them)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.contacts.models import Contact
from comptoir.core.models import BaseModel, WorkspaceManager
from comptoir.workspaces.models import Workspace


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    CONFIRMED = "confirmed", _("Confirmed")
    CANCELLED = "cancelled", _("Cancelled")


class Appointment(BaseModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="appointments")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="appointments")
    starts_at = models.DateTimeField()
    place = models.CharField(max_length=200, blank=True)
    service = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=16, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    # The booking software's id: later events (moved, cancelled) name the appointment by it.
    external_id = models.CharField(max_length=100, blank=True)

    objects = WorkspaceManager["Appointment"]()

    class Meta:
        indexes = [models.Index(fields=["workspace", "starts_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=~models.Q(external_id=""),
                name="appointment_external_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact} at {self.starts_at:%Y-%m-%d %H:%M}"


class CustomerEvent(BaseModel):
    """Something that happened to a customer in the shop's other software: an order confirmed,
    ready or shipped, a purchase. Auto-answers ("COMMANDE") and automations read them.

    `type` is dotted ("order.ready", "purchase"); `external_id` is the sender's id for the
    event, so the same event sent twice is stored once.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="customer_events"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="customer_events")
    type = models.CharField(max_length=64)
    external_id = models.CharField(max_length=100, blank=True)
    data = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    # The appointment an appointment.* event booked, moved or cancelled.
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )

    objects = WorkspaceManager["CustomerEvent"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=~models.Q(external_id=""),
                name="customer_event_external_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["workspace", "contact", "type", "occurred_at"],
                name="customer_event_contact_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} for {self.contact} at {self.occurred_at:%Y-%m-%d %H:%M}"


class TriggerType(models.TextChoices):
    EVENT = "event", _("An event")
    DATE = "date", _("A date")


class DateAttribute(models.TextChoices):
    """The dates a rule can count from: the customer's birthday, an appointment's start."""

    BIRTHDAY = "birthday", _("Birthday")
    APPOINTMENT_START = "appointment_start", _("Appointment start")


class RulePurpose(models.TextChoices):
    SERVICE = "service", _("Service")
    MARKETING = "marketing", _("Marketing")


class RuleChannel(models.TextChoices):
    PREFERRED = "preferred", _("The customer's preferred channel")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    VOICE = "voice", _("Voice call")


class AutomationRule(BaseModel):
    """When something happens (an event) or a date comes (a birthday, an appointment), send
    a message, `offset_minutes` after it (negative: before), or with `at_time` at that local
    time on the day so reached. `templates` maps a language to its text; `conditions` are
    checks on the contact, all of which must hold. `key` names the seeded default rules.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="automation_rules"
    )
    key = models.SlugField(max_length=40, blank=True)
    name = models.CharField(max_length=120)
    enabled = models.BooleanField(default=True)
    trigger_type = models.CharField(max_length=8, choices=TriggerType.choices)
    # An event type ("appointment.booked", "loyalty.points_added") or a DateAttribute.
    trigger = models.CharField(max_length=64)
    offset_minutes = models.IntegerField(default=0)
    at_time = models.TimeField(null=True, blank=True)
    conditions = models.JSONField(default=list, blank=True)
    templates = models.JSONField(default=dict)
    purpose = models.CharField(
        max_length=10, choices=RulePurpose.choices, default=RulePurpose.SERVICE
    )
    channel = models.CharField(
        max_length=10, choices=RuleChannel.choices, default=RuleChannel.PREFERRED
    )
    # The channels tried in this order when the first one is refused for a reason another
    # fixes (a fixed line, no email…) or its message fails: ["sms", "voice", "email"].
    fallback = models.JSONField(default=list, blank=True)

    objects = WorkspaceManager["AutomationRule"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "key"],
                condition=~models.Q(key=""),
                name="automation_rule_key_unique",
            )
        ]
        indexes = [models.Index(fields=["workspace", "trigger_type", "trigger"])]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")
    SKIPPED = "skipped", _("Skipped")


class ScheduledRun(BaseModel):
    """One message a rule will send to one contact, about one subject, at `due_at`.

    pending ──due, checks pass──▶ sent (message queued through the outbox)
       │  └──due, a check fails──▶ skipped (reason: appointment_past, conditions, blocked…)
       └──appointment moved or cancelled, rule deleted──▶ cancelled (reason)

    `subject_key` says what the run is about ("event:<id>", "appointment:<id>@<start>",
    "birthday:2026"): one run per rule, contact and subject, whatever retries happen.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(AutomationRule, on_delete=models.CASCADE, related_name="runs")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, null=True, blank=True, related_name="runs"
    )
    event = models.ForeignKey(
        CustomerEvent, on_delete=models.CASCADE, null=True, blank=True, related_name="runs"
    )
    subject_key = models.CharField(max_length=120)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    reason = models.CharField(max_length=40, blank=True)
    fired_at = models.DateTimeField(null=True, blank=True)
    message = models.ForeignKey(
        "messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The channel its message finally went by (sms, voice, email): the last one tried.
    channel = models.CharField(max_length=8, blank=True, default="", db_default="")

    objects = WorkspaceManager["ScheduledRun"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "contact", "subject_key"], name="scheduled_run_unique"
            )
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="scheduled_run_due_idx"),
            models.Index(
                fields=["workspace", "contact", "fired_at"], name="scheduled_run_contact_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} for {self.contact} at {self.due_at:%Y-%m-%d %H:%M} ({self.status})"
