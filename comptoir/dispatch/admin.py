from django.contrib import admin

from comptoir.dispatch.models import SharedLimit


@admin.register(SharedLimit)
class SharedLimitAdmin(admin.ModelAdmin):
    """A provider account several channels share: channels join it with `shared_limit_key`
    in their config, and together never send faster than its rate."""

    list_display = ("key", "rate_limit", "description")
    search_fields = ("key", "description")
