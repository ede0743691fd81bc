"""A channel is one provider account and one sender (a number, short code, or address)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.channels.crypto import decrypt_secrets
from comptoir.core.models import BaseModel, WorkspaceManager
from comptoir.providers.base import ChannelConfig
from comptoir.workspaces.models import Workspace


class ChannelStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    FAILING = "failing", _("Failing")
    DISABLED = "disabled", _("Disabled")


class Channel(BaseModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="channels")
    provider = models.CharField(max_length=32)
    name = models.CharField(max_length=100)
    scheme = models.CharField(max_length=8, default="sms")
    address = models.CharField(max_length=200, help_text=_("The sender: number or name."))
    config = models.JSONField(default=dict, blank=True)
    secrets = models.TextField(blank=True, editable=False, help_text=_("Encrypted."))
    # Segments per second; null means no limit of ours.
    rate_limit = models.FloatField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=ChannelStatus.choices, default=ChannelStatus.ACTIVE
    )
    status_reason = models.TextField(blank=True)
    is_default = models.BooleanField(default=True)

    objects = WorkspaceManager["Channel"]()

    def __str__(self) -> str:
        return f"{self.name} ({self.provider} {self.address})"

    def as_config(self) -> ChannelConfig:
        return ChannelConfig(
            uuid=str(self.id),
            address=self.address,
            config=dict(self.config),
            secrets=decrypt_secrets(self.secrets),
            base_url=settings.BASE_URL,
        )

    def hook_url(self, action: str) -> str:
        return f"{settings.BASE_URL}/hooks/{self.id}/{action}"
