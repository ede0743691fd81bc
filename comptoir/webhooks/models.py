"""Outgoing webhooks: the URLs a workspace wants told about events, and each delivery.

A delivery is written in the same transaction as the event it reports (the outbox
pattern); workers POST it later. Its states and what moves them:

    pending ──2xx──▶ delivered
      │ ▲
      │ └── any other answer, a timeout or a refused connection: retried later
      │     (`next_attempt_at`, backing off), the code and error recorded
      └──── the last attempt fails too ──▶ failed

A worker holds a short lease on a delivery while it POSTs (`claim_token`,
`claimed_until`), so two workers never POST the same delivery at once; a lease left by a
dead worker expires and the delivery is tried again.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from comptoir.core.models import BaseModel, WorkspaceManager
from comptoir.workspaces.models import Workspace


class WebhookEndpoint(BaseModel):
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=2000)
    # The signing secret, encrypted with the channel secrets' key; shown once, at creation.
    secret = models.TextField(editable=False, help_text=_("Encrypted."))
    # Event types it wants ("message.received"), "family.*", or "*" for every event.
    events = models.JSONField(default=list)
    active = models.BooleanField(default=True)

    objects = WorkspaceManager["WebhookEndpoint"]()

    class Meta:
        indexes = [models.Index(fields=["workspace", "active"], name="webhook_endpoint_active_idx")]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        """Whether this endpoint subscribed to the event type."""
        for pattern in self.events:
            if pattern in ("*", event_type):
                return True
            if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
                return True
        return False


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(BaseModel):
    """One event for one endpoint; its body is the same on every attempt."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The event's id, the same for every endpoint it goes to: receivers deduplicate on it.
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=64)
    # When the event happened: the body's `created_at`, the same for every endpoint.
    occurred_at = models.DateTimeField()
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceManager["WebhookDelivery"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhook_delivery_event_unique"
            )
        ]
        indexes = [
            # The sweep: pending deliveries that are due.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due_idx",
            ),
            models.Index(fields=["endpoint", "created_at"], name="webhook_delivery_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.endpoint_id} ({self.status})"
