"""Forms of the inbox's settings pages: they read what was typed, the services judge it.

A form turns inputs into values (a time, a number, a list of words); the rules (a
template's variables, opening hours that do not overlap, a valid phone number) live in
the services, whose errors name a field. `service_error` puts such an error back on the
input it came from, so every mistake shows next to what caused it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from comptoir.core.errors import ComptoirError
from comptoir.inbox.autoanswers import TOPICS, VARIABLES
from comptoir.inbox.calls import DEFAULT_TEXTS
from comptoir.inbox.hours import DAY_NAMES, DAYS
from comptoir.inbox.models import InboxSettings
from comptoir.inbox.priority import URGENT_WORDS
from comptoir.inbox.settings_services import TEXTBACK_PERIOD
from comptoir.workspaces.models import Workspace

LANGUAGE_NAMES = {"fr": _lazy("French"), "en": _lazy("English"), "vi": _lazy("Vietnamese")}
_HOURS_ERROR = re.compile(r"opening_hours\.(\w+)\.(\d+)\Z")
_SPLIT = re.compile(r"[,;\n]")


class ServiceErrors:
    """Mixin: show a service's ComptoirError on the field it names (else above the form)."""

    def field_for(self, name: str) -> str | None:
        fields: Mapping[str, Any] = self.fields  # type: ignore[attr-defined]
        return name if name in fields else None

    def service_error(self, exc: ComptoirError) -> None:
        self.add_error(self.field_for(exc.field or ""), exc.message)  # type: ignore[attr-defined]


def words_split(text: str) -> list[str]:
    """'urgent, cassé; au plus vite' -> ['urgent', 'cassé', 'au plus vite']."""
    return [w.strip() for w in _SPLIT.split(text or "") if w.strip()]


def _time_field() -> forms.TimeField:
    return forms.TimeField(
        required=False,
        input_formats=["%H:%M", "%H:%M:%S"],
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
    )


class InboxSettingsForm(ServiceErrors, forms.Form):
    """The inbox settings page: text-back, opening hours, urgent words, VIP, auto-answers."""

    textback_enabled = forms.BooleanField(label=_lazy("Text back missed calls"), required=False)
    textback_open = forms.CharField(
        label=_lazy("Text when the shop is open"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_lazy("Empty: the default text (in grey). Variables: {shop}, {first_name}."),
    )
    textback_closed = forms.CharField(
        label=_lazy("Text when the shop is closed"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_lazy(
            "Empty: the default text. Variables: {shop}, {first_name}, {next_opening}."
        ),
    )
    textback_period_hours = forms.IntegerField(
        label=_lazy("At most one text-back per caller every (hours)"),
        min_value=TEXTBACK_PERIOD[0],
        max_value=TEXTBACK_PERIOD[1],
    )
    vip_tag = forms.CharField(
        label=_lazy("VIP tag"),
        required=False,
        max_length=64,
        help_text=_lazy("Customers with this tag go first. Empty: no VIP."),
    )
    auto_answers_enabled = forms.BooleanField(label=_lazy("Auto-answers on"), required=False)

    def __init__(
        self, data: Any = None, *, workspace: Workspace, current: InboxSettings, **kwargs: Any
    ) -> None:
        super().__init__(data, **kwargs)
        self.workspace, self.current = workspace, current
        self.languages = list(dict.fromkeys([workspace.language or "en", "en"]))
        self._shop_fields()
        self._hours_fields()
        self._urgent_fields()
        self._placeholders()
        self._initial()
        self.slots: dict[str, list[int]] = {}

    # -- building --------------------------------------------------------------------

    def _shop_fields(self) -> None:
        """The shop's details that auto-answers can say, when this install has them."""
        known = {f.name for f in InboxSettings._meta.concrete_fields}
        for name, label, limit in (
            ("shop_address", _lazy("Shop address"), 300),
            ("shop_phone", _lazy("Shop phone"), 40),
            ("website", _lazy("Website"), 200),
        ):
            if name in known:
                self.fields[name] = forms.CharField(label=label, required=False, max_length=limit)

    def _hours_fields(self) -> None:
        # Two ranges a day, or more when the stored hours already have more (none lost).
        stored = self.current.opening_hours or {}
        self.slot_count = max([2, *(len(r) for r in stored.values() if isinstance(r, list))])
        for day in DAYS:
            for slot in range(self.slot_count):
                for end in ("open", "close"):
                    self.fields[f"hours_{day}_{slot}_{end}"] = _time_field()

    def _urgent_fields(self) -> None:
        for language in self.languages:
            built_in = ", ".join(URGENT_WORDS.get(language, ()))
            self.fields[f"urgent_words_{language}"] = forms.CharField(
                label=_("Urgent words (%(language)s)")
                % {"language": LANGUAGE_NAMES.get(language, language)},
                required=False,
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text=_("Comma-separated, on top of the built-in ones: %(words)s.")
                % {"words": built_in or "—"},
            )

    def _placeholders(self) -> None:
        defaults = DEFAULT_TEXTS.get(self.workspace.language, DEFAULT_TEXTS["en"])
        self.fields["textback_open"].widget.attrs["placeholder"] = defaults["open"]
        self.fields["textback_closed"].widget.attrs["placeholder"] = defaults["closed"]

    def _initial(self) -> None:
        current = self.current
        for name in self.fields:
            if hasattr(current, name):
                self.initial[name] = getattr(current, name)
        for day, ranges in (current.opening_hours or {}).items():
            for slot, pair in enumerate(ranges if isinstance(ranges, list) else []):
                self.initial[f"hours_{day}_{slot}_open"] = pair[0]
                self.initial[f"hours_{day}_{slot}_close"] = pair[1]
        for language in self.languages:
            words = (current.urgent_words or {}).get(language, [])
            self.initial[f"urgent_words_{language}"] = ", ".join(words)

    # -- for the template ------------------------------------------------------------

    def hours_rows(self) -> list[tuple[str, list[tuple[Any, Any]]]]:
        """(day name, [(open field, close field), …]) per weekday, for the grid."""
        names = DAY_NAMES.get(self.workspace.language, DAY_NAMES["en"])
        return [
            (
                names[index],
                [
                    (self[f"hours_{day}_{slot}_open"], self[f"hours_{day}_{slot}_close"])
                    for slot in range(self.slot_count)
                ],
            )
            for index, day in enumerate(DAYS)
        ]

    def urgent_fields(self) -> list[Any]:
        return [self[f"urgent_words_{language}"] for language in self.languages]

    def shop_fields(self) -> list[Any]:
        return [self[n] for n in ("shop_address", "shop_phone", "website") if n in self.fields]

    # -- reading ---------------------------------------------------------------------

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        hours: dict[str, list[list[str]]] = {}
        for day in DAYS:
            for slot in range(self.slot_count):
                pair = self._range(cleaned, day, slot)
                if pair is not None:
                    hours.setdefault(day, []).append(pair)
                    self.slots.setdefault(day, []).append(slot)
        cleaned["opening_hours"] = hours
        return cleaned

    def _range(self, cleaned: Mapping[str, Any], day: str, slot: int) -> list[str] | None:
        names = (f"hours_{day}_{slot}_open", f"hours_{day}_{slot}_close")
        if any(n in self.errors for n in names):
            return None
        start: dt.time | None = cleaned.get(names[0])
        end: dt.time | None = cleaned.get(names[1])
        if start is None and end is None:
            return None
        if start is None or end is None:
            missing = names[0] if start is None else names[1]
            self.add_error(missing, _("Give both the opening and the closing time, or neither."))
            return None
        return [start.strftime("%H:%M"), end.strftime("%H:%M")]

    def values(self) -> dict[str, Any]:
        """The settings as inbox_settings_update takes them."""
        data = self.cleaned_data
        values = {
            name: data[name]
            for name in self.fields
            if hasattr(self.current, name) and name != "opening_hours"
        }
        values["opening_hours"] = data["opening_hours"]
        urgent = dict(self.current.urgent_words or {})  # other languages are kept as they are
        for language in self.languages:
            urgent[language] = words_split(data.get(f"urgent_words_{language}", ""))
        values["urgent_words"] = urgent
        return values

    def field_for(self, name: str) -> str | None:
        """opening_hours.mon.1 -> the input of that range; urgent_words.fr -> its box."""
        match = _HOURS_ERROR.match(name)
        if match:
            day, index = match.group(1), int(match.group(2))
            slots = self.slots.get(day, [])
            if index < len(slots):
                return f"hours_{day}_{slots[index]}_open"
            return None
        if name.startswith("urgent_words."):
            name = "urgent_words_" + name.split(".", 1)[1]
        return super().field_for(name)


class SavedReplyForm(ServiceErrors, forms.Form):
    title = forms.CharField(label=_lazy("Title"), max_length=100)
    body = forms.CharField(
        label=_lazy("Reply"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_lazy("Variables: {first_name}, {last_name}, {shop}; {first_name|default}."),
    )


class AutoAnswerForm(ServiceErrors, forms.Form):
    name = forms.CharField(label=_lazy("Name"), max_length=100)
    keywords = forms.CharField(
        label=_lazy("Keywords"),
        help_text=_lazy(
            "Comma-separated words or phrases, matched anywhere in the customer's text, "
            "ignoring case and accents."
        ),
        max_length=2000,
    )
    answer = forms.CharField(label=_lazy("Answer"), widget=forms.Textarea(attrs={"rows": 4}))
    topic = forms.ChoiceField(label=_lazy("Topic"), required=False, choices=list(TOPICS.items()))
    enabled = forms.BooleanField(label=_lazy("On"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["answer"].help_text = _(
            "Variables: %(names)s; {order_status} in an order-status rule."
        ) % {"names": ", ".join(f"{{{n}}}" for n in sorted(VARIABLES))}

    def keyword_list(self) -> list[str]:
        return words_split(self.cleaned_data.get("keywords", ""))

    def field_for(self, name: str) -> str | None:
        """keywords.2 (the third keyword) -> the keywords box."""
        return super().field_for(name.split(".", 1)[0])


class TeamForm(ServiceErrors, forms.Form):
    name = forms.CharField(label=_lazy("Team name"), max_length=100)


class TeamMemberForm(ServiceErrors, forms.Form):
    phone = forms.CharField(label=_lazy("Phone number"), max_length=40)
    first_name = forms.CharField(label=_lazy("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_lazy("Last name"), max_length=100, required=False)
    user = forms.ChoiceField(label=_lazy("Staff account"), required=False)

    def __init__(self, data: Any = None, *, staff: Any = (), **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        field: forms.ChoiceField = self.fields["user"]  # type: ignore[assignment]
        field.choices = [("", _("None")), *((str(u.id), u.get_username()) for u in staff)]


class BroadcastForm(ServiceErrors, forms.Form):
    body = forms.CharField(
        label=_lazy("Text to the whole team"), widget=forms.Textarea(attrs={"rows": 3})
    )
