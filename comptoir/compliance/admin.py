"""Operators' views: consent, the audit log and keywords, read-only (pages and API write)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from comptoir.compliance.models import AuditEntry, ConsentEvent, WorkspaceKeyword


class ReadOnlyAdmin(admin.ModelAdmin):
    """Append-only records: shown, never changed here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdmin):
    list_display = ("contact", "purpose", "action", "source", "at")
    list_filter = ("purpose", "action", "source")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "workspace", "actor_label", "action", "target")
    list_filter = ("action",)


@admin.register(WorkspaceKeyword)
class WorkspaceKeywordAdmin(ReadOnlyAdmin):
    """Shown only: a shop's keywords are added and removed on its Privacy → Keywords page
    or through the API, which validate them (STOP can never opt in) and audit the change."""

    list_display = ("word", "kind", "workspace")
    list_filter = ("kind",)
