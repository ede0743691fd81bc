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
    external_id = models.CharField(max_length=100, blank=True)

    objects = WorkspaceManager["Appointment"]()

    class Meta:
        indexes = [models.Index(fields=["workspace", "starts_at"])]

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
