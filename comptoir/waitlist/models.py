"""The waitlist: customers waiting for a slot, the slots that free up, and who was offered what.

An opening (a freed slot) is offered to the matching active entries, one after the other
(`in_order`, each has `offer_minutes` to answer) or to all of them at once. The first
positive reply takes it:

    Opening:  open ──first OUI──▶ taken (winner, appointment)
                 ├──starts_at reached──▶ expired
                 └──staff cancel──▶ cancelled
    Offer:    offered ──OUI, opening still open──▶ won
                 ├──NON──▶ declined
                 ├──its time is over (in order)──▶ expired
                 └──someone else won──▶ taken_by_other
              not_sent: the message could not go (opted out, landline…); the next one is tried

Two winners are impossible: the opening moves open → taken in one conditional UPDATE, and
the database holds at most one `won` offer per opening.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.automations.models import Appointment
from comptoir.contacts.models import Contact
from comptoir.core.models import BaseModel, WorkspaceManager
from comptoir.workspaces.models import Workspace


class WaitlistEntry(BaseModel):
    """A customer waiting for a slot; blank service or place means "any"."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="waitlist_entries")
    service = models.CharField(max_length=200, blank=True)
    place = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField()  # smaller first; ties by created_at
    active = models.BooleanField(default=True)
    note = models.CharField(max_length=500, blank=True)

    objects = WorkspaceManager["WaitlistEntry"]()

    class Meta:
        indexes = [models.Index(fields=["workspace", "active", "position"])]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "contact", "service", "place"],
                condition=models.Q(active=True),
                name="waitlist_entry_active_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact} waiting for {self.service or 'any'}"


class OpeningMode(models.TextChoices):
    IN_ORDER = "in_order", _("In order, one at a time")
    ALL_AT_ONCE = "all_at_once", _("To everyone at once")


class OpeningStatus(models.TextChoices):
    OPEN = "open", _("Open")
    TAKEN = "taken", _("Taken")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")


class Opening(BaseModel):
    """A slot that freed up (a cancellation), offered to the waitlist."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    place = models.CharField(max_length=200, blank=True)
    service = models.CharField(max_length=200, blank=True)
    mode = models.CharField(
        max_length=12, choices=OpeningMode.choices, default=OpeningMode.IN_ORDER
    )
    offer_minutes = models.PositiveIntegerField(default=15)
    # The shop's own offer text (a template); blank: the default text per language.
    template = models.CharField(max_length=640, blank=True)
    status = models.CharField(
        max_length=10, choices=OpeningStatus.choices, default=OpeningStatus.OPEN
    )
    winner = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    taken_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The cancelled appointment that freed the slot, and the one booked for the winner.
    source_appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = WorkspaceManager["Opening"]()

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "status", "starts_at"]),
            models.Index(fields=["status", "mode"], name="waitlist_opening_live_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service or 'slot'} at {self.starts_at:%Y-%m-%d %H:%M} ({self.status})"


class OfferStatus(models.TextChoices):
    OFFERED = "offered", _("Offered")
    WON = "won", _("Won")
    TAKEN_BY_OTHER = "taken_by_other", _("Taken by someone else")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Expired")
    NOT_SENT = "not_sent", _("Could not be sent")


class Offer(BaseModel):
    """One opening offered to one customer: the text sent, until when, and how it ended."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    opening = models.ForeignKey(Opening, on_delete=models.CASCADE, related_name="offers")
    entry = models.ForeignKey(
        WaitlistEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="offers"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        "messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reply = models.ForeignKey(
        "messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=OfferStatus.choices, default=OfferStatus.OFFERED
    )
    reason = models.CharField(max_length=40, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceManager["Offer"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["opening"],
                condition=models.Q(status="won"),
                name="waitlist_offer_one_winner",
            ),
            models.UniqueConstraint(fields=["opening", "contact"], name="waitlist_offer_once"),
        ]
        indexes = [
            models.Index(fields=["workspace", "contact", "sent_at"]),
            models.Index(fields=["status", "expires_at"], name="waitlist_offer_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.opening} to {self.contact} ({self.status})"
