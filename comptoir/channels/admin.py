from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.forms import ModelForm
from django.http import HttpRequest

from comptoir.channels.models import Channel


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    """Operators tune a channel here: its rate limit, its backup (failover) and, for the
    sandbox, `receipt_delay`, `fail_rate` and `throttle_per_second` in `config`; a
    `shared_limit_key` in `config` joins a shared rate limit. Secrets are never shown."""

    list_display = ("name", "workspace", "provider", "address", "status", "rate_limit", "backup")
    list_filter = ("provider", "status")
    fields = (
        "workspace",
        "name",
        "provider",
        "scheme",
        "address",
        "config",
        "rate_limit",
        "backup",
        "status",
        "status_reason",
        "consecutive_failures",
        "failing_since",
        "is_default",
    )
    readonly_fields = ("workspace", "provider", "scheme", "consecutive_failures", "failing_since")

    def get_form(
        self, request: HttpRequest, obj: Channel | None = None, change: bool = False, **kwargs: Any
    ) -> type[ModelForm[Channel]]:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None and "backup" in form.base_fields:
            # Only what Channel.clean accepts: same workspace and scheme, not itself.
            field = form.base_fields["backup"]
            field.queryset = (  # type: ignore[attr-defined]
                Channel.objects.for_workspace(obj.workspace_id)
                .filter(scheme=obj.scheme)
                .exclude(id=obj.id)
            )
        return form
