"""The alert settings form of a rule: it reads what was typed; the policies' service judges
it, and its errors come back on the field they name."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _lazy

from comptoir.alerts.models import AlertMedium, AlertPolicy
from comptoir.alerts.policies import Escalation, policy_settings
from comptoir.core.errors import ComptoirError


class PolicyForm(forms.Form):
    ack_required = forms.BooleanField(
        label=_lazy("The customer must acknowledge (else staff are alerted)"), required=False
    )
    medium = forms.ChoiceField(label=_lazy("How"), choices=AlertMedium.choices)
    escalate_after_minutes = forms.IntegerField(label=_lazy("Minutes to wait for an answer"))
    max_attempts = forms.IntegerField(label=_lazy("Times sent before alerting staff"))
    team = forms.CharField(label=_lazy("Staff team to text"), required=False, max_length=100)
    staff_numbers = forms.CharField(
        label=_lazy("Other staff numbers (one per line)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    staff_message = forms.CharField(
        label=_lazy("Text for staff (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_lazy("{shop} {name} {phone} {alert} {attempts} {outcome}"),
    )

    @classmethod
    def initial_for(cls, policy: AlertPolicy | None) -> dict[str, Any]:
        settings = policy_settings(policy)
        return {
            "ack_required": policy.ack_required if policy is not None else True,
            "medium": settings.medium,
            "escalate_after_minutes": settings.escalate_after_minutes,
            "max_attempts": settings.max_attempts,
            "team": settings.team,
            "staff_numbers": "\n".join(settings.staff_numbers),
            "staff_message": settings.staff_message,
        }

    def settings(self) -> Escalation:
        data = self.cleaned_data
        return Escalation(
            medium=data["medium"],
            escalate_after_minutes=data["escalate_after_minutes"],
            max_attempts=data["max_attempts"],
            team=data["team"],
            staff_numbers=[n.strip() for n in data["staff_numbers"].splitlines() if n.strip()],
            staff_message=data["staff_message"],
        )

    def service_error(self, exc: ComptoirError) -> None:
        name = (exc.field or "").split(".")[0]
        self.add_error(name if name in self.fields else None, exc.message)
