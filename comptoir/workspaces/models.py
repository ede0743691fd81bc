"""Workspaces (a shop or a chain), staff membership with roles, and API keys (stored hashed)."""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.core.models import BaseModel

API_KEY_PREFIX = "cpt_"


class Workspace(BaseModel):
    name = models.CharField(max_length=200)
    # ISO 3166 region used to read national numbers ("06 12 34 56 78" in FR) and pick the policy.
    region = models.CharField(max_length=2, default="FR")
    timezone = models.CharField(max_length=64, default="Europe/Paris")
    language = models.CharField(max_length=8, default="fr")
    # Longest body accepted, in segments; null means the installation's default.
    max_segments = models.PositiveSmallIntegerField(null=True, blank=True)
    # Overrides of the country's sending policy (see comptoir.compliance.countries):
    # marketing_window {days, start, end, skip_holidays}, cap_count, cap_days,
    # opt_out_mention, sender_name.
    policy = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError as FormError

        from comptoir.compliance.countries import policy_overrides_validate
        from comptoir.core.errors import ValidationError

        if self.timezone not in zoneinfo.available_timezones():
            raise FormError({"timezone": f"{self.timezone!r} is not a time zone."})
        try:
            policy_overrides_validate(self.policy or {})
        except ValidationError as exc:
            raise FormError({"policy": f"{exc.field}: {exc.message}"}) from exc

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def segment_cap(self) -> int:
        return self.max_segments or settings.COMPTOIR_MAX_SEGMENTS


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    AGENT = "agent", _("Agent")


class Membership(BaseModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.workspace} ({self.role})"


def hash_api_key(raw: str) -> str:
    # Keys are 256-bit random tokens, so a plain SHA-256 is enough (no dictionary to guess from).
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKey(BaseModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text=_("First characters, to recognise a key."))
    key_hash = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def generate() -> str:
        return API_KEY_PREFIX + secrets.token_urlsafe(32)
