"""Reading alerts: the list staff see, and what a rule's alert settings are."""

from __future__ import annotations

from django.db.models import QuerySet

from comptoir.alerts.models import OPEN, Alert, AlertPolicy
from comptoir.workspaces.models import Workspace

SHOWN = 100


def alerts_list(workspace: Workspace, *, open_only: bool = True, limit: int = SHOWN) -> list[Alert]:
    """Newest first, with what a row shows: one query."""
    rows: QuerySet[Alert] = Alert.objects.for_workspace(workspace).select_related(
        "contact", "workspace", "policy__rule", "escalate_team"
    )
    if open_only:
        rows = rows.filter(status__in=OPEN)
    return list(rows.order_by("-created_at")[:limit])


def policies_list(workspace: Workspace) -> list[AlertPolicy]:
    return list(
        AlertPolicy.objects.for_workspace(workspace)
        .select_related("rule", "escalate_team")
        .order_by("created_at")
    )
