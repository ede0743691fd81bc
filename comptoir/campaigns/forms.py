"""The owner's campaign forms: the composer, the test send, the launch."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from comptoir.campaigns.models import AudienceKind
from comptoir.channels.models import Channel, ChannelStatus
from comptoir.contacts.models import Tag
from comptoir.core.errors import ComptoirError
from comptoir.segments.models import Segment
from comptoir.workspaces.models import Workspace

# Where a service's error field shows on the composer form.
FIELD_OF = {"audience": "audience_kind", "scheduled_at": "at"}


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    body = forms.CharField(
        label=_("Message"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "Placeholders: {first_name}, {first_name|default if empty}. Links (http/https) "
            "become short links that count clicks."
        ),
    )
    audience_kind = forms.ChoiceField(label=_("Audience"), choices=AudienceKind.choices)
    tag = forms.ModelChoiceField(label=_("Tag"), queryset=Tag.objects.none(), required=False)
    segment = forms.ModelChoiceField(
        label=_("Segment"), queryset=Segment.objects.none(), required=False
    )
    channel = forms.ModelChoiceField(label=_("Channel"), queryset=Channel.objects.none())

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tag_field = self.fields["tag"]
        assert isinstance(tag_field, forms.ModelChoiceField)
        tag_field.queryset = Tag.objects.for_workspace(workspace).order_by("name")
        channel_field = self.fields["channel"]
        assert isinstance(channel_field, forms.ModelChoiceField)
        channel_field.queryset = (
            Channel.objects.for_workspace(workspace)
            .filter(scheme="sms")
            .exclude(status=ChannelStatus.DISABLED)
            .order_by("-is_default", "name")
        )
        if not self.initial.get("channel"):
            self.initial["channel"] = channel_field.queryset.values_list("id", flat=True).first()
        segment_field = self.fields["segment"]
        assert isinstance(segment_field, forms.ModelChoiceField)
        segment_field.queryset = Segment.objects.for_workspace(workspace).order_by("name")
        # The live counter: each field that changes what is measured re-asks for it.
        live = {
            "hx-post": reverse("campaigns:measure"),
            "hx-target": "#counter",
            "hx-swap": "outerHTML",
            "hx-include": "closest form",
        }
        self.fields["body"].widget.attrs.update(live, **{"hx-trigger": "input changed delay:300ms"})
        for name in ("audience_kind", "tag", "segment"):
            self.fields[name].widget.attrs.update(live, **{"hx-trigger": "change"})

    def service_error(self, exc: ComptoirError) -> None:
        name = FIELD_OF.get(exc.field or "", exc.field or "")
        self.add_error(name if name in self.fields else None, exc.message)


class CampaignTestForm(forms.Form):
    phones = forms.CharField(
        label=_("Staff numbers"),
        help_text=_("Up to 5, separated by commas."),
        max_length=200,
    )

    def numbers(self) -> list[str]:
        return [p.strip() for p in self.cleaned_data["phones"].split(",") if p.strip()]


class LaunchForm(forms.Form):
    when = forms.ChoiceField(
        label=_("When"),
        choices=[("now", _("Now")), ("later", _("At a time"))],
        widget=forms.RadioSelect,
        initial="now",
    )
    at = forms.DateTimeField(
        label=_("Date and time"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("when") == "later":
            at = data.get("at")
            if at is None:
                self.add_error("at", _("Choose the date and time to send."))
            else:
                data["at"] = self._in_workspace_zone(at)
        return data

    def _in_workspace_zone(self, at: dt.datetime) -> dt.datetime:
        # A datetime-local field has no zone: it is the shop's local time.
        naive = timezone.make_naive(at) if timezone.is_aware(at) else at
        return naive.replace(tzinfo=self.workspace.tz)
