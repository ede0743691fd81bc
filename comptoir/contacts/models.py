"""Contacts (customers and prospects), their tags and purchases."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.core.models import BaseModel, WorkspaceManager
from comptoir.workspaces.models import Workspace


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    VOICE = "voice", _("Voice call")
    EMAIL = "email", _("Email")


class Tag(BaseModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=64)

    objects = WorkspaceManager["Tag"]()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="tag_unique")]

    def __str__(self) -> str:
        return self.name


class Contact(BaseModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="contacts")
    phone = models.CharField(max_length=20, help_text=_("E.164, e.g. +33612345678"))
    number_type = models.CharField(max_length=20, default="unknown")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    language = models.CharField(max_length=8, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    birthday = models.DateField(null=True, blank=True)
    preferred_channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.SMS)
    attributes = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    # A number that wrote to us before anyone typed its name in.
    is_prospect = models.BooleanField(default=False)
    # Until when a reply from them may answer a question we sent (comptoir.messaging.awaiting).
    awaiting_until = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceManager["Contact"]()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "phone"], name="contact_phone_unique"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.phone


class Purchase(BaseModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="purchases")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="purchases")
    purchased_on = models.DateField()
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    product_type = models.CharField(max_length=64, blank=True)
    material = models.CharField(max_length=64, blank=True)
    brand = models.CharField(max_length=64, blank=True)
    store = models.CharField(max_length=64, blank=True)

    objects = WorkspaceManager["Purchase"]()

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "contact", "purchased_on"]),
            # Segments' "spent over Z" sums amounts per contact from the index alone.
            models.Index(fields=["workspace", "contact", "amount"], name="purchase_spent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.product_type} {self.amount} on {self.purchased_on}"
