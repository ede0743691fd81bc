"""What every API module needs from a request: its workspace and how it signs the audit log."""

from __future__ import annotations

from django.http import HttpRequest

from comptoir.workspaces.models import Workspace


def request_workspace(request: HttpRequest) -> Workspace:
    """The workspace the request's API key belongs to (set by the key's authentication)."""
    workspace = request.auth  # type: ignore[attr-defined]
    assert isinstance(workspace, Workspace)
    return workspace


def actor_label(request: HttpRequest) -> str:
    """How an API call appears in the audit log: the key's prefix, never the key."""
    key = getattr(request, "api_key", None)
    return f"api key {key.prefix}…" if key is not None else "api"
