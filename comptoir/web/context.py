from __future__ import annotations

from django.http import HttpRequest

from comptoir.workspaces.models import Membership, Workspace


def current_workspace(request: HttpRequest) -> Workspace | None:
    """The workspace the signed-in staff member works in (their first membership)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    cached = getattr(request, "_workspace", None)
    if cached is None:
        membership = (
            Membership.objects.select_related("workspace")
            .filter(user=user)
            .order_by("created_at")
            .first()
        )
        cached = membership.workspace if membership else None
        request._workspace = cached  # type: ignore[attr-defined]
        request._role = membership.role if membership else ""  # type: ignore[attr-defined]
    return cached


def workspace(request: HttpRequest) -> dict[str, object]:
    current = current_workspace(request)
    return {"workspace": current, "staff_role": getattr(request, "_role", "")}
