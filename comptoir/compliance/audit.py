"""The audit log: who changed consent, settings or keywords, who exported or erased whom.

Every service that does one of these calls `audit_record` in the same transaction, so an
action and its entry are committed (or rolled back) together.
"""

from __future__ import annotations

from typing import Any

from comptoir.compliance.models import AuditEntry
from comptoir.workspaces.models import Workspace


class AuditAction:
    """The actions written so far; a new kind of action needs no migration."""

    CONSENT_RECORDED = "consent.recorded"
    CONTACT_EXPORTED = "contact.exported"
    CONTACT_ERASED = "contact.erased"
    RETENTION_PURGED = "retention.purged"
    KEYWORD_ADDED = "keyword.added"
    KEYWORD_REMOVED = "keyword.removed"
    SETTINGS_CHANGED = "settings.changed"
    AUTO_ANSWER_CHANGED = "auto_answer.changed"
    CHANNEL_CREATED = "channel.created"
    CHANNEL_CHANGED = "channel.changed"


def actor_label_for(actor: Any) -> str:
    """How a staff user appears in the log, kept even once the user is deleted."""
    return f"staff {actor.get_username()}" if actor is not None else "system"


def audit_record(
    *,
    workspace: Workspace | Any,
    action: str,
    actor: Any = None,
    actor_label: str = "",
    target: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to a workspace's audit log (a Workspace or its id).

    `target` and `details` must hold no personal data: a contact id, a count, the hash
    of a number, never the number or a message's text.
    """
    label = actor_label or actor_label_for(actor)
    return AuditEntry.objects.create(
        workspace_id=getattr(workspace, "pk", workspace),
        actor=actor,
        actor_label=label[:200],
        action=action,
        target=str(target)[:200],
        details=details or {},
    )
