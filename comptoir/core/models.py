"""Base models: a time-ordered UUID key, timestamps, and workspace scoping.

References the database does not re-check per row: on the tables a campaign writes a
row to per recipient (messages, recipients, short links, the frozen audience), the
references to the workspace, the channel and the campaign have `db_constraint=False`.
They are the same parent row for a whole batch (PostgreSQL would look it up and
key-share lock it again for every row at commit: 40 % of a 100,000-recipient launch),
they are set from objects just read, the fan-out holds the campaign row locked, and
deletions go through Django, whose `on_delete` (CASCADE, PROTECT) is what removes or
protects the rows; nothing deletes those parents in SQL. References that differ per row
(the contact, the message) keep their database constraint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models

from comptoir.core.ids import uuid7

if TYPE_CHECKING:
    from comptoir.workspaces.models import Workspace

M = TypeVar("M", bound=models.Model)


class BaseModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class WorkspaceQuerySet(models.QuerySet[M]):
    def for_workspace(self, workspace: Workspace | Any) -> WorkspaceQuerySet[M]:
        """Every read of tenant data goes through here: nothing crosses workspaces."""
        return self.filter(workspace=workspace)


class WorkspaceManager(models.Manager[M]):
    def get_queryset(self) -> WorkspaceQuerySet[M]:
        return WorkspaceQuerySet(self.model, using=self._db)

    def for_workspace(self, workspace: Workspace | Any) -> WorkspaceQuerySet[M]:
        return self.get_queryset().for_workspace(workspace)
