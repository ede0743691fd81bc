"""Forms of the privacy pages: they read what was typed, the compliance services judge it.

As on the inbox's settings pages, a service's error names a field and `service_error`
puts it back on the input it came from (`policy.marketing_window.end` -> `end`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from comptoir.compliance.countries import CountryPolicy
from comptoir.compliance.keywords import MAX_KEYWORD_LENGTH, KeywordKind
from comptoir.compliance.models import ConsentAction, ConsentPurpose
from comptoir.compliance.retention import MODES
from comptoir.contacts.models import Channel
from comptoir.contacts.phones import parse_phone
from comptoir.core.errors import ComptoirError
from comptoir.inbox.forms import ServiceErrors

WEEKDAYS = [
    (0, _lazy("Monday")),
    (1, _lazy("Tuesday")),
    (2, _lazy("Wednesday")),
    (3, _lazy("Thursday")),
    (4, _lazy("Friday")),
    (5, _lazy("Saturday")),
    (6, _lazy("Sunday")),
]
KEYWORD_KINDS = [
    (KeywordKind.OPT_OUT.value, _lazy("Opt-out (like STOP)")),
    (KeywordKind.OPT_IN.value, _lazy("Opt-in (like START)")),
    (KeywordKind.HELP.value, _lazy("Help (like HELP)")),
]
RETENTION_MODES = {"erase": _lazy("Erase"), "anonymise": _lazy("Anonymise")}
MAX_NOTE = 1000


class ContactSearchForm(forms.Form):
    q = forms.CharField(label=_lazy("Phone number or name"), required=False, max_length=100)


class ConsentChangeForm(forms.Form):
    """Staff record a consent change they were told of; the note is the proof."""

    purpose = forms.ChoiceField(label=_lazy("Purpose"), choices=ConsentPurpose.choices)
    action = forms.ChoiceField(label=_lazy("Change"), choices=ConsentAction.choices)
    channel = forms.ChoiceField(label=_lazy("Channel"), choices=Channel.choices, initial="sms")
    note = forms.CharField(
        label=_lazy("Note (the proof)"),
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_lazy("How the customer told you, in your words: “asked by phone on 3/11”."),
    )

    def clean_note(self) -> str:
        note = str(self.cleaned_data["note"]).strip()
        if not note:
            raise forms.ValidationError(_("Say how the customer told you: it is the proof."))
        return note


class ContactEraseForm(forms.Form):
    """Erasing cannot be undone: the phone number must be typed again to confirm."""

    confirm = forms.CharField(label=_lazy("Type the customer's phone number to confirm"))

    def __init__(self, data: Any = None, *, phone: str, region: str) -> None:
        super().__init__(data)
        self.phone, self.region = phone, region

    def clean_confirm(self) -> str:
        typed = str(self.cleaned_data["confirm"])
        try:
            same = parse_phone(typed, region=self.region).e164 == self.phone
        except ComptoirError:
            same = False
        if not same:
            raise forms.ValidationError(
                _("This is not the customer's number (%(phone)s): nothing was erased.")
                % {"phone": self.phone}
            )
        return typed


class KeywordForm(ServiceErrors, forms.Form):
    word = forms.CharField(
        label=_lazy("Keyword"),
        max_length=MAX_KEYWORD_LENGTH,
        help_text=_lazy(
            "Up to three words. Case, accents and punctuation do not count: "
            "“Stop promo !” is stored as “stop promo”."
        ),
    )
    kind = forms.ChoiceField(label=_lazy("What it does"), choices=KEYWORD_KINDS)


def _hhmm(value: dt.time) -> str:
    return value.strftime("%H:%M")


class PolicyForm(ServiceErrors, forms.Form):
    """The sending policy in force, as a form; what differs from the country's defaults is
    saved as the workspace's overrides (the rest follows the country)."""

    days = forms.TypedMultipleChoiceField(
        label=_lazy("Marketing days"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    start = forms.TimeField(
        label=_lazy("From"),
        input_formats=["%H:%M", "%H:%M:%S"],
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
    )
    end = forms.TimeField(
        label=_lazy("Until"),
        input_formats=["%H:%M", "%H:%M:%S"],
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
    )
    skip_holidays = forms.BooleanField(
        label=_lazy("No marketing on public holidays"), required=False
    )
    cap_count = forms.IntegerField(label=_lazy("At most (marketing messages)"), min_value=1)
    cap_days = forms.IntegerField(label=_lazy("per (days)"), min_value=1, max_value=3660)
    opt_out_mention = forms.CharField(
        label=_lazy("Opt-out mention"),
        max_length=100,
        help_text=_lazy("Added to marketing texts that do not offer it, e.g. “STOP au 36xxx”."),
    )
    sender_name = forms.CharField(
        label=_lazy("Sender name"),
        max_length=40,
        required=False,
        help_text=_lazy("Put first in marketing texts when set."),
    )
    retention_days = forms.IntegerField(
        label=_lazy("Keep inactive customers (days)"), min_value=1, max_value=36600
    )
    retention_mode = forms.ChoiceField(
        label=_lazy("Then"), choices=[(m, RETENTION_MODES[m]) for m in MODES]
    )
    timezone = forms.CharField(
        label=_lazy("Shop's time zone"),
        max_length=64,
        help_text=_lazy("For customers whose own zone is unknown, e.g. Europe/Paris."),
    )

    def __init__(
        self,
        data: Any = None,
        *,
        base: CountryPolicy,
        current: CountryPolicy,
        retention: tuple[int, str],
        base_retention: tuple[int, str],
        timezone_name: str,
    ) -> None:
        window = current.marketing_window
        initial = {
            "days": sorted(window.days),
            "start": window.start,
            "end": window.end,
            "skip_holidays": window.skip_holidays,
            "cap_count": current.cap_count,
            "cap_days": current.cap_days,
            "opt_out_mention": current.opt_out_mention,
            "sender_name": current.sender_name,
            "retention_days": retention[0],
            "retention_mode": retention[1],
            "timezone": timezone_name,
        }
        super().__init__(data, initial=initial)
        self.base, self.base_retention = base, base_retention

    def field_for(self, name: str) -> str | None:
        # "policy.marketing_window.start" -> "start"; "policy.cap_count" -> "cap_count".
        return super().field_for(name.rsplit(".", 1)[-1])

    def clean_timezone(self) -> str:
        return str(self.cleaned_data["timezone"]).strip()

    def clean_opt_out_mention(self) -> str:
        return str(self.cleaned_data["opt_out_mention"]).strip()

    def clean_sender_name(self) -> str:
        return str(self.cleaned_data["sender_name"]).strip()

    def overrides(self) -> dict[str, Any]:
        """What differs from the country's policy and the installation's retention."""
        data = self.cleaned_data
        base = self.base
        found: dict[str, Any] = {}
        window: dict[str, Any] = {}
        if set(data["days"]) != set(base.marketing_window.days):
            window["days"] = sorted(set(data["days"]))
        for name in ("start", "end"):
            if data[name] != getattr(base.marketing_window, name):
                window[name] = _hhmm(data[name])
        if data["skip_holidays"] != base.marketing_window.skip_holidays:
            window["skip_holidays"] = data["skip_holidays"]
        if window:
            found["marketing_window"] = window
        for name in ("cap_count", "cap_days", "opt_out_mention", "sender_name"):
            if data[name] != getattr(base, name):
                found[name] = data[name]
        if data["retention_days"] != self.base_retention[0]:
            found["retention_days"] = data["retention_days"]
        if data["retention_mode"] != self.base_retention[1]:
            found["retention_mode"] = data["retention_mode"]
        return found


class AuditFilterForm(forms.Form):
    """The audit log's filters; the choices are what this workspace's log holds."""

    action = forms.ChoiceField(label=_lazy("Action"), required=False)
    actor = forms.ChoiceField(label=_lazy("Who"), required=False)

    def __init__(self, data: Any, *, actions: list[str], actors: list[str]) -> None:
        super().__init__(data)
        everything = [("", _("All"))]
        self.fields["action"].choices = everything + [(a, a) for a in actions]  # type: ignore[attr-defined]
        self.fields["actor"].choices = everything + [(a, a) for a in actors]  # type: ignore[attr-defined]
