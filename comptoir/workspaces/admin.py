from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from comptoir.workspaces.models import ApiKey, Membership, Workspace


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("name", "region", "timezone", "language", "created_at")

    def save_model(self, request: HttpRequest, obj: Workspace, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            from comptoir.compliance.audit import AuditAction, audit_record

            audit_record(
                workspace=obj,
                action=AuditAction.SETTINGS_CHANGED,
                actor=request.user,
                target="workspace",
                details={"changed": sorted(form.changed_data), "policy": obj.policy},
            )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("workspace", "user", "role")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("workspace", "name", "prefix", "last_used_at", "revoked_at")
    readonly_fields = ("key_hash", "prefix")
