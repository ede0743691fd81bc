"""Consent as events: append-only, the current state is derived, history never overwritten."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from comptoir.contacts.models import Contact
from comptoir.workspaces.models import Workspace


class ConsentPurpose(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SERVICE = "service", _("Service")


class ConsentAction(models.TextChoices):
    GRANTED = "granted", _("Granted")
    REVOKED = "revoked", _("Revoked")


class ConsentSource(models.TextChoices):
    FORM = "form", _("Web form")
    IMPORT = "import", _("Import")
    KEYWORD = "keyword", _("Keyword by text")
    STAFF = "staff", _("Staff")
    API = "api", _("API")
    PROVIDER = "provider", _("Provider")


class ConsentEvent(models.Model):
    """One grant or revocation; never updated or deleted (except with the contact)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(max_length=12, choices=ConsentPurpose.choices)
    channel = models.CharField(max_length=8, default="sms")
    action = models.CharField(max_length=8, choices=ConsentAction.choices)
    source = models.CharField(max_length=10, choices=ConsentSource.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What proves it: the message text and its id, the file name and row, the form…
    proof = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["contact", "purpose", "at"], name="consent_latest_idx")]

    def __str__(self) -> str:
        return f"{self.purpose} {self.action} by {self.source} at {self.at}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("Consent events are append-only: record a new event instead.")
        super().save(*args, **kwargs)


class WorkspaceKeyword(models.Model):
    """A shop's own keyword on top of the built-in ones (e.g. "STOP PROMO")."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="keywords")
    word = models.CharField(max_length=40)
    kind = models.CharField(
        max_length=8,
        choices=[("opt_out", _("Opt-out")), ("opt_in", _("Opt-in")), ("help", _("Help"))],
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "word"], name="keyword_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.word} ({self.kind})"
