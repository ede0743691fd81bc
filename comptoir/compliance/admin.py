"""Operators' views: consent and the audit log read-only, keywords editable and audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from comptoir.compliance.audit import AuditAction, audit_record
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
class WorkspaceKeywordAdmin(admin.ModelAdmin):
    list_display = ("word", "kind", "workspace")
    list_filter = ("kind",)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            workspace=obj.workspace,
            action=AuditAction.KEYWORD_ADDED if not change else AuditAction.SETTINGS_CHANGED,
            actor=request.user,
            target=f"keyword {obj.word}",
            details={"word": obj.word, "kind": obj.kind},
        )
