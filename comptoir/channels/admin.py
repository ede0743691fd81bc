from django.contrib import admin

from comptoir.channels.models import Channel


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    """Operators tune a channel here: its rate limit and, for the sandbox, `receipt_delay`,
    `fail_rate` and `throttle_per_second` in `config`. Secrets are never shown."""

    list_display = ("name", "workspace", "provider", "address", "status", "rate_limit")
    list_filter = ("provider", "status")
    fields = (
        "workspace",
        "name",
        "provider",
        "scheme",
        "address",
        "config",
        "rate_limit",
        "status",
        "status_reason",
        "is_default",
    )
    readonly_fields = ("workspace", "provider", "scheme")
