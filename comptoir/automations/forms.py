"""The rule form of the automations pages: it reads what was typed; the rules' service
judges it, and its errors come back on the field they name."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from comptoir.automations.models import AutomationRule, RuleChannel, RulePurpose, TriggerType
from comptoir.automations.rules import KNOWN_EVENTS, offset_format
from comptoir.core.errors import ComptoirError

LANGUAGES = ("fr", "en")


class RuleForm(forms.Form):
    name = forms.CharField(label=_lazy("Name"), max_length=120)
    enabled = forms.BooleanField(label=_lazy("On"), required=False, initial=True)
    trigger_type = forms.ChoiceField(label=_lazy("Triggered by"), choices=TriggerType.choices)
    trigger = forms.CharField(
        label=_lazy("Event type or date"),
        max_length=64,
        help_text=_lazy(
            "An event type (%(events)s, or your own) or a date: birthday, appointment_start."
        )
        % {"events": ", ".join(KNOWN_EVENTS)},
    )
    offset = forms.CharField(
        label=_lazy("Offset"),
        max_length=16,
        initial="0",
        help_text=_lazy("-24h: a day before; +2h; +2d; 0: at once."),
    )
    at_time = forms.TimeField(
        label=_lazy("At local time (optional)"),
        required=False,
        input_formats=["%H:%M", "%H:%M:%S"],
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
    )
    purpose = forms.ChoiceField(label=_lazy("Purpose"), choices=RulePurpose.choices)
    channel = forms.ChoiceField(label=_lazy("Channel"), choices=RuleChannel.choices)
    fallback = forms.CharField(
        label=_lazy("Then try (fallback)"),
        required=False,
        max_length=40,
        initial="sms, voice, email",
        help_text=_lazy(
            "Channels tried next, in order, when one is refused (a fixed line, no email) or "
            "its message fails: e.g. sms, voice, email. Empty: none."
        ),
    )
    template_fr = forms.CharField(
        label=_lazy("Text (French)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    template_en = forms.CharField(
        label=_lazy("Text (English)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    conditions = forms.CharField(
        label=_lazy("Conditions (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_lazy('e.g. [{"attribute": "language", "op": "eq", "value": "fr"}]'),
    )

    @classmethod
    def initial_for(cls, rule: AutomationRule) -> dict[str, Any]:
        return {
            "name": rule.name,
            "enabled": rule.enabled,
            "trigger_type": rule.trigger_type,
            "trigger": rule.trigger,
            "offset": offset_format(rule.offset_minutes),
            "at_time": rule.at_time,
            "purpose": rule.purpose,
            "channel": rule.channel,
            "fallback": ", ".join(rule.fallback or ()),
            "template_fr": rule.templates.get("fr", ""),
            "template_en": rule.templates.get("en", ""),
            "conditions": json.dumps(rule.conditions, ensure_ascii=False)
            if rule.conditions
            else "",
        }

    def clean_conditions(self) -> Any:
        text = (self.cleaned_data.get("conditions") or "").strip()
        if not text:
            return []
        try:
            return json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(_("This is not JSON: %(why)s") % {"why": exc}) from None

    def templates(self) -> dict[str, str]:
        return {
            lang: self.cleaned_data[f"template_{lang}"]
            for lang in LANGUAGES
            if self.cleaned_data.get(f"template_{lang}", "").strip()
        }

    def service_error(self, exc: ComptoirError) -> None:
        """Put a service error on the input it names ("templates.fr" -> template_fr)."""
        name = (exc.field or "").split(".")[0]  # "fallback.1" -> fallback
        if exc.field and exc.field.startswith("templates."):
            name = "template_" + exc.field.split(".", 1)[1]
        self.add_error(name if name in self.fields else None, exc.message)
