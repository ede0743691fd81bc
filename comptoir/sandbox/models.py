"""The simulated network's own records: what each simulated handset sent and received.

This is the carrier's side, not Comptoir's outbox: the phone simulator reads it, and
the adapter reaches it only through `comptoir.sandbox.carrier`.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class CarrierMessage(models.Model):
    MT = "mt"  # to the handset
    MO = "mo"  # from the handset
    RINGING, ANSWERED, ENDED = "ringing", "answered", "ended"

    channel_uuid = models.UUIDField()
    direction = models.CharField(max_length=2, choices=[(MT, "to handset"), (MO, "from handset")])
    reference = models.CharField(max_length=64, blank=True)  # the sender's own id (MT)
    provider_id = models.CharField(max_length=40, unique=True)
    sender = models.CharField(max_length=64)
    recipient = models.CharField(max_length=64)
    body = models.TextField()
    segments = models.PositiveSmallIntegerField(default=1)
    submitted_at = models.DateTimeField()
    fate = models.CharField(max_length=10, default="delivered")
    error_code = models.CharField(max_length=20, blank=True)
    receipt_due_at = models.DateTimeField(null=True, blank=True)
    receipt_sent_at = models.DateTimeField(null=True, blank=True)
    # A call to the handset (a voice message read by text-to-speech): how it goes. For a
    # call, `fate` is the end reported when nobody acts (no-answer at `receipt_due_at`).
    medium = models.CharField(max_length=8, default="text")
    call_state = models.CharField(max_length=10, blank=True)  # ringing, answered, ended
    gather_digits = models.PositiveSmallIntegerField(default=0)
    digits = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel_uuid", "reference"],
                condition=~Q(reference=""),
                name="carrier_reference_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["receipt_due_at"],
                condition=Q(receipt_sent_at__isnull=True, receipt_due_at__isnull=False),
                name="carrier_receipt_due_idx",
            ),
            models.Index(fields=["recipient", "submitted_at"], name="carrier_recipient_idx"),
            models.Index(fields=["sender", "submitted_at"], name="carrier_sender_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.sender}→{self.recipient}"
