"""A channel is one provider account and one sender (a number, short code, or address)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
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
    # Failover (comptoir.dispatch.failover): where queued messages go while this channel
    # is down; a channel of the same workspace and scheme.
    backup = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="backing_up",
        help_text=_("Messages go through this channel while this one is failing."),
    )
    # Sends that failed in a row for want of the provider; any answer from it resets this.
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    # When the failures tripped the failover; null while the channel is healthy.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)

    objects = WorkspaceManager["Channel"]()

    def __str__(self) -> str:
        return f"{self.name} ({self.provider} {self.address})"

    def clean(self) -> None:
        super().clean()
        backup = self.backup
        if backup is None:
            return
        if backup.pk == self.pk:
            raise ValidationError({"backup": _("A channel cannot be its own backup.")})
        if backup.workspace_id != self.workspace_id:
            raise ValidationError({"backup": _("The backup must belong to the same workspace.")})
        if backup.scheme != self.scheme:
            raise ValidationError(
                {
                    "backup": _("The backup must send %(scheme)s like this channel.")
                    % {"scheme": self.scheme}
                }
            )

    def as_config(self) -> ChannelConfig:
        return ChannelConfig(
            uuid=str(self.id),
            address=self.address,
            config=dict(self.config),
            secrets=dict(self._secrets_plain()),
            base_url=settings.BASE_URL,
        )

    def _secrets_plain(self) -> dict[str, str]:
        """The secrets decrypted, once per object and ciphertext (the webhook view keeps
        a channel for two seconds and decrypting at each request cost a twentieth of it)."""
        kept = self.__dict__.get("_plain")
        if kept is None or kept[0] != self.secrets:
            kept = (self.secrets, decrypt_secrets(self.secrets))
            self.__dict__["_plain"] = kept
        return kept[1]  # type: ignore[no-any-return]

    def hook_url(self, action: str) -> str:
        return f"{settings.BASE_URL}/hooks/{self.id}/{action}"
