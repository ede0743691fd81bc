"""Writes on channels."""

from __future__ import annotations

import secrets as secrets_module
from typing import TYPE_CHECKING, Any

from comptoir.channels.crypto import encrypt_secrets
from comptoir.channels.models import Channel
from comptoir.core.errors import ValidationError
from comptoir.providers.registry import UnknownProvider, provider_type

if TYPE_CHECKING:
    from comptoir.workspaces.models import Workspace


def channel_create(
    *,
    workspace: Workspace,
    provider: str,
    name: str,
    address: str = "",
    config: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
    rate_limit: float | None = None,
) -> Channel:
    """Create a channel; secrets are encrypted, and the sandbox gets its signing key."""
    try:
        ptype = provider_type(provider)
    except UnknownProvider as exc:
        raise ValidationError(str(exc), field="provider") from exc
    config = dict(config or {})
    secrets = dict(secrets or {})
    for field in ptype.config_fields:
        source = secrets if field.secret else config
        if field.name not in source and field.default is not None:
            source[field.name] = field.default
        if field.required and not source.get(field.name):
            raise ValidationError(f"{field.label} is required.", field=field.name)
    secrets.setdefault("webhook_secret", secrets_module.token_urlsafe(32))
    channel = Channel.objects.create(
        workspace=workspace,
        provider=provider,
        name=name,
        scheme=ptype.schemes[0],
        address=address
        or ptype.default_address(workspace.region)
        or workspace_sender_default(workspace),
        config=config,
        secrets=encrypt_secrets(secrets),
        rate_limit=rate_limit,
        is_default=not Channel.objects.for_workspace(workspace)
        .filter(scheme=ptype.schemes[0])
        .exists(),
    )
    ptype.activate(channel.as_config())
    return channel


def workspace_sender_default(workspace: Workspace) -> str:
    # An alphanumeric sender is at most 11 characters (GSM 03.40).
    letters = "".join(ch for ch in workspace.name if ch.isalnum())
    return letters[:11] or "Comptoir"
