"""Consent as events, the audit log and the suppression list: all append-only.

Consent's current state is derived from its events; history is never overwritten.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from comptoir.contacts.models import Contact
from comptoir.core.models import WorkspaceQuerySet
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
    EMAIL_UNSUBSCRIBE = "email_unsubscribe", _("Unsubscribe link in an email")


class ConsentEvent(models.Model):
    """One grant or revocation; never updated or deleted (except with the contact)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(max_length=12, choices=ConsentPurpose.choices)
    channel = models.CharField(max_length=8, default="sms")
    action = models.CharField(max_length=8, choices=ConsentAction.choices)
    source = models.CharField(max_length=20, choices=ConsentSource.choices)
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


class AuditQuerySet(WorkspaceQuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise ValueError("The audit log is append-only: record a new entry instead.")

    def delete(self) -> tuple[int, dict[str, int]]:
        # Entries go only with their workspace (its cascade does not come through here).
        raise ValueError("The audit log is append-only: entries are never deleted.")


class AuditEntry(models.Model):
    """Who did what, when: consent, settings, keywords, exports, erasures, purges.

    Never updated or deleted; `target` names what was acted on without personal data
    (a contact id, or the hash of an erased number, never the number itself).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who it was in words, kept when the user is gone: "staff anne", "api key cpt_ab12…".
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=40)  # "consent.recorded", "contact.erased"…
    target = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    objects = AuditQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "at"], name="audit_workspace_at_idx"),
            models.Index(fields=["workspace", "target"], name="audit_target_idx"),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label}: {self.action} {self.target}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("The audit log is append-only: record a new entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError("The audit log is append-only: entries are never deleted.")


class SuppressionReason(models.TextChoices):
    ERASURE = "erasure", _("Erased at the customer's request")


class Suppression(models.Model):
    """A number never to be texted again, kept only as a salted hash (see gdpr.phone_hash)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    phone_hash = models.CharField(max_length=64)
    reason = models.CharField(
        max_length=16, choices=SuppressionReason.choices, default=SuppressionReason.ERASURE
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "phone_hash"], name="suppression_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.phone_hash[:12]}… ({self.reason})"
