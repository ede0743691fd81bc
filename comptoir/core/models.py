"""Base models: a time-ordered UUID key, timestamps, and workspace scoping."""

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
