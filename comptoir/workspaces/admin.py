from django.contrib import admin

from comptoir.workspaces.models import ApiKey, Membership, Workspace


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("name", "region", "timezone", "language", "created_at")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("workspace", "user", "role")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("workspace", "name", "prefix", "last_used_at", "revoked_at")
    readonly_fields = ("key_hash", "prefix")
