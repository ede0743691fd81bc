from django.contrib import admin

from comptoir.webhooks.models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Operators can pause an endpoint or change its events; the secret is never shown."""

    list_display = ("url", "workspace", "active", "created_at")
    list_filter = ("active",)
    fields = ("workspace", "url", "events", "active")
    readonly_fields = ("workspace",)

    def has_add_permission(self, request: object) -> bool:
        return False  # created through the API, which shows the secret once


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event_type")
    exclude = ("claim_token",)
    readonly_fields = (
        "workspace",
        "endpoint",
        "event_id",
        "event_type",
        "occurred_at",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_until",
        "last_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
    )

    def has_add_permission(self, request: object) -> bool:
        return False
