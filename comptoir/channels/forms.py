"""The channel set-up form, generated from a provider type's `config_fields`.

A type declares its fields as data (name, label, secret, required, default); the form
turns them into inputs: secrets as password inputs that never show the stored value and,
on edit, keep it when left blank; a field's default gives its input type (a number for a
number). The service (`channel_create` / `channel_update`) judges the values; its errors
name a field, shown next to the input it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from comptoir.channels.models import Channel
from comptoir.core.errors import ComptoirError
from comptoir.providers.base import ConfigField, ProviderType

PREFIX = "cfg_"  # a type's fields may be called "name" or "address" too


def _input(spec: ConfigField, *, editing: bool, current: Any) -> forms.Field:
    label = str(spec.label)
    if spec.secret:
        return forms.CharField(
            label=label,
            required=spec.required and not editing,
            strip=True,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
            help_text=_("Stored encrypted; leave blank to keep the current value.")
            if editing
            else _("Stored encrypted, never shown again."),
        )
    default = spec.default
    # The default's type is the field's (bool before int: a bool is an int).
    field: forms.Field
    if isinstance(default, bool):
        field = forms.BooleanField(label=label, required=False)
    elif isinstance(default, int):
        field = forms.IntegerField(label=label, required=spec.required)
    elif isinstance(default, float):
        field = forms.FloatField(label=label, required=spec.required)
    else:
        field = forms.CharField(label=label, required=spec.required)
    field.initial = current if current is not None else default
    return field


class ChannelForm(forms.Form):
    """One channel of one provider type: its name, sender, rate and the type's fields."""

    name = forms.CharField(label=_lazy("Name"), max_length=100)
    address = forms.CharField(
        label=_lazy("Sender"),
        max_length=200,
        required=False,
        help_text=_lazy("A number, a short code, a sender name or an email address."),
    )
    rate_limit = forms.FloatField(
        label=_lazy("Rate limit (segments per second)"),
        required=False,
        min_value=0.01,
        help_text=_lazy("Empty: no limit of ours, the provider's only."),
    )

    backup = forms.ChoiceField(
        label=_lazy("Backup channel"),
        required=False,
        help_text=_lazy("Messages go through it while this channel's provider is failing."),
    )

    def __init__(
        self,
        data: Any = None,
        *,
        ptype: ProviderType,
        backups: Sequence[Channel],
        channel: Channel | None = None,
    ) -> None:
        """`backups`: the workspace's channels this one may fail over to."""
        initial: dict[str, Any] = {}
        if channel is not None:
            initial = {
                "name": channel.name,
                "address": channel.address,
                "rate_limit": channel.rate_limit,
                "backup": str(channel.backup_id or ""),
            }
        super().__init__(data, initial=initial)
        self.ptype = ptype
        self.backups = {str(c.id): c for c in backups}
        self.fields["backup"].choices = [("", _("None"))] + [  # type: ignore[attr-defined]
            (key, f"{c.name} ({c.address})") for key, c in self.backups.items()
        ]
        if channel is None:
            self.fields["address"].help_text = _(
                "Empty: the provider's default sender for the shop."
            )
        config = channel.config if channel is not None else {}
        for spec in ptype.config_fields:
            self.fields[PREFIX + spec.name] = _input(
                spec, editing=channel is not None, current=config.get(spec.name)
            )

    def type_fields(self) -> list[forms.BoundField]:
        return [self[PREFIX + spec.name] for spec in self.ptype.config_fields]

    def values(self) -> dict[str, Any]:
        """(Service arguments) name, address, rate_limit, backup, config and secrets."""
        data = self.cleaned_data
        config: dict[str, Any] = {}
        secrets: dict[str, str] = {}
        for spec in self.ptype.config_fields:
            value = data.get(PREFIX + spec.name)
            if spec.secret:
                if value:  # blank: none on create, the stored one kept on edit
                    secrets[spec.name] = value
            elif value is None or value == "":
                # Cleared: back to the type's default (or empty, which a required one refuses).
                config[spec.name] = spec.default if spec.default is not None else ""
            else:
                config[spec.name] = value
        return {
            "name": data["name"],
            "address": data.get("address") or "",
            "rate_limit": data.get("rate_limit"),
            "backup": self.backups.get(data.get("backup") or ""),
            "config": config,
            "secrets": secrets,
        }

    def service_error(self, exc: ComptoirError) -> None:
        """Show a service's error on the input it names (else above the form)."""
        name = exc.field or ""
        target = name if name in self.fields else PREFIX + name
        self.add_error(target if target in self.fields else None, exc.message)
