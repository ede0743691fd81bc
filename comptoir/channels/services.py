"""Writes on channels: created and changed only here, each change audited.

Secrets are encrypted at rest (`crypto`); the audit log names which secrets changed,
never their values.
"""

from __future__ import annotations

import secrets as secrets_module
from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext as _

from comptoir.channels.crypto import decrypt_secrets, encrypt_secrets
from comptoir.channels.models import Channel
from comptoir.compliance.audit import AuditAction, audit_record
from comptoir.core.errors import ValidationError
from comptoir.providers.base import ProviderType
from comptoir.providers.registry import UnknownProvider, provider_type

if TYPE_CHECKING:
    from comptoir.workspaces.models import Workspace


class Unchanged(Enum):
    """`channel_update(backup=Unchanged.KEEP)`: leave the backup as it is."""

    KEEP = "keep"


def channel_create(
    *,
    workspace: Workspace,
    provider: str,
    name: str,
    address: str = "",
    config: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
    rate_limit: float | None = None,
    backup: Channel | None = None,
    actor: Any = None,
) -> Channel:
    """Create a channel; secrets are encrypted, and every channel gets a signing key.

    Raises ValidationError naming the field (`provider`, `name`, `rate_limit`, `backup` or
    a config field's name).
    """
    try:
        ptype = provider_type(provider)
    except UnknownProvider as exc:
        raise ValidationError(str(exc), field="provider") from exc
    name = _name_checked(name)
    _rate_checked(rate_limit)
    _backup_checked(workspace.id, ptype.schemes[0], None, backup)
    config, secrets = channel_values_complete(ptype, config or {}, secrets or {})
    with transaction.atomic():
        channel = _channel_insert(
            workspace, ptype, name, address, config, secrets, rate_limit, backup
        )
        _audit(channel, AuditAction.CHANNEL_CREATED, actor, config=sorted(config), secrets=[])
    ptype.activate(channel.as_config())
    return channel


def _channel_insert(
    workspace: Workspace,
    ptype: ProviderType,
    name: str,
    address: str,
    config: dict[str, Any],
    secrets: dict[str, str],
    rate_limit: float | None,
    backup: Channel | None,
) -> Channel:
    return Channel.objects.create(
        workspace=workspace,
        provider=ptype.code,
        name=name,
        scheme=ptype.schemes[0],
        address=address
        or ptype.default_address(workspace.region)
        or workspace_sender_default(workspace),
        config=config,
        secrets=encrypt_secrets(secrets),
        rate_limit=rate_limit,
        backup=backup,
        is_default=not Channel.objects.for_workspace(workspace)
        .filter(scheme=ptype.schemes[0])
        .exists(),
    )


def channel_update(
    *,
    channel: Channel,
    name: str,
    address: str,
    config: Mapping[str, Any],
    secrets: Mapping[str, str],
    rate_limit: float | None,
    backup: Channel | Unchanged | None = Unchanged.KEEP,
    actor: Any = None,
) -> list[str]:
    """Change a channel's settings; returns the names of what changed ([]: nothing did).

    A secret given empty keeps its stored value (a form never shows secrets back, so a
    blank input means "unchanged"). Config keys a type no longer declares are kept.
    Raises ValidationError naming the field.
    """
    ptype = provider_type(channel.provider)
    name = _name_checked(name)
    _rate_checked(rate_limit)
    new_backup_id = channel.backup_id
    if not isinstance(backup, Unchanged):
        _backup_checked(channel.workspace_id, channel.scheme, channel.id, backup)
        new_backup_id = backup.id if backup is not None else None
    stored_secrets = decrypt_secrets(channel.secrets)
    new_secrets = {**stored_secrets, **{k: v for k, v in secrets.items() if v}}
    new_config, new_secrets = channel_values_complete(
        ptype, {**channel.config, **config}, new_secrets
    )
    address = address.strip() or channel.address
    changed = [
        label
        for label, before, after in (
            ("name", channel.name, name),
            ("address", channel.address, address),
            ("rate_limit", channel.rate_limit, rate_limit),
            ("backup", channel.backup_id, new_backup_id),
        )
        if before != after
    ]
    changed += [k for k in sorted(new_config) if channel.config.get(k) != new_config[k]]
    changed_secrets = [k for k in sorted(new_secrets) if stored_secrets.get(k) != new_secrets[k]]
    if not changed and not changed_secrets:
        return []
    with transaction.atomic():
        channel.name, channel.address, channel.rate_limit = name, address, rate_limit
        channel.backup_id = new_backup_id
        channel.config = new_config
        channel.secrets = encrypt_secrets(new_secrets)
        channel.save(update_fields=["name", "address", "rate_limit", "backup", "config", "secrets"])
        _audit(channel, AuditAction.CHANNEL_CHANGED, actor, config=changed, secrets=changed_secrets)
    return changed + changed_secrets


def _audit(
    channel: Channel, action: str, actor: Any, *, config: list[str], secrets: list[str]
) -> None:
    """Who set up or changed a channel; secret names only, never their values."""
    audit_record(
        workspace=channel.workspace_id,
        action=action,
        actor=actor,
        target=str(channel.id),
        details={
            "provider": channel.provider,
            "name": channel.name,
            "changed": config,
            "secrets_changed": secrets,
        },
    )


def _backup_checked(
    workspace_id: Any, scheme: str, channel_id: Any, backup: Channel | None
) -> None:
    """A backup is another channel of the same workspace that sends the same way."""
    if backup is None:
        return
    if backup.workspace_id != workspace_id:
        raise ValidationError(_("Not found in this workspace."), field="backup")
    if backup.id == channel_id:
        raise ValidationError(_("A channel cannot be its own backup."), field="backup")
    if backup.scheme != scheme:
        raise ValidationError(
            _("The backup must send %(scheme)s like this channel.") % {"scheme": scheme},
            field="backup",
        )


def _name_checked(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("A channel needs a name."), field="name")
    if len(name) > Channel._meta.get_field("name").max_length:  # type: ignore[operator]
        raise ValidationError(_("The name is too long."), field="name")
    return name


def _rate_checked(rate_limit: float | None) -> None:
    if rate_limit is not None and not rate_limit > 0:
        raise ValidationError(
            _("The rate limit is a number of segments per second above 0."), field="rate_limit"
        )


def channel_values_complete(
    ptype: ProviderType, config: Mapping[str, Any], secrets: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """A channel's values as stored: defaults filled, required ones checked, a signing key.

    Raises ValidationError naming the missing field.
    """
    config = dict(config)
    secrets = dict(secrets)
    for field in ptype.config_fields:
        source: dict[str, Any] = secrets if field.secret else config
        if field.name not in source and field.default is not None:
            source[field.name] = field.default
        if field.required and not source.get(field.name):
            raise ValidationError(
                _("%(field)s is required.") % {"field": field.label}, field=field.name
            )
    secrets.setdefault("webhook_secret", secrets_module.token_urlsafe(32))
    return config, secrets


def workspace_sender_default(workspace: Workspace) -> str:
    # An alphanumeric sender is at most 11 characters (GSM 03.40).
    letters = "".join(ch for ch in workspace.name if ch.isalnum())
    return letters[:11] or "Comptoir"
