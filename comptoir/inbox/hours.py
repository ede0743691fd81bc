"""Opening hours: {"mon": [["09:00", "12:30"], ["14:00", "19:00"]], ...}, in the shop's zone.

A day that is missing or empty is closed. Ranges may not cross midnight.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext as _

from comptoir.core.errors import ValidationError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
Hours = Mapping[str, Sequence[Sequence[str]]]


def default_hours() -> dict[str, list[list[str]]]:
    """A shop's usual week: Monday to Saturday, 9:00 to 19:00."""
    return {day: [["09:00", "19:00"]] for day in DAYS[:6]}


def _time(value: Any, where: str) -> dt.time:
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationError(
            _("%(value)r is not a time like 09:00.") % {"value": value}, field=where
        ) from exc


def hours_validate(hours: Any) -> None:
    """Raise with the exact place of the first mistake."""
    if not isinstance(hours, Mapping):
        raise ValidationError(_("Opening hours must be an object of days."), field="opening_hours")
    for day, ranges in hours.items():
        where = f"opening_hours.{day}"
        if day not in DAYS:
            raise ValidationError(
                _("%(day)r is not a day: use %(days)s.") % {"day": day, "days": ", ".join(DAYS)},
                field=where,
            )
        if not isinstance(ranges, list):
            raise ValidationError(_("A day is a list of [open, close] pairs."), field=where)
        for index, pair in enumerate(ranges):
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise ValidationError(
                    _('Each range is [open, close], e.g. ["09:00", "12:30"].'),
                    field=f"{where}.{index}",
                )
            start, end = _time(pair[0], f"{where}.{index}"), _time(pair[1], f"{where}.{index}")
            if end <= start:
                raise ValidationError(
                    _("A range must close after it opens."), field=f"{where}.{index}"
                )


def _ranges(hours: Hours, day: int) -> list[tuple[dt.time, dt.time]]:
    return [
        (dt.time.fromisoformat(a), dt.time.fromisoformat(b)) for a, b in hours.get(DAYS[day], ())
    ]


def is_open(hours: Hours, local: dt.datetime) -> bool:
    """Whether the shop is open at this local time."""
    now = local.time()
    return any(start <= now < end for start, end in _ranges(hours, local.weekday()))


def next_opening(hours: Hours, local: dt.datetime) -> dt.datetime | None:
    """The next local instant the shop opens (None when it never does)."""
    for offset in range(8):
        day = local.date() + dt.timedelta(days=offset)
        for start, _end in sorted(_ranges(hours, day.weekday())):
            candidate = dt.datetime.combine(day, start, tzinfo=local.tzinfo)
            if candidate > local:
                return candidate
    return None


def hours_text(hours: Hours, language: str) -> str:
    """'lundi 09:00-19:00, mardi …' for an auto-answer."""
    names = DAY_NAMES.get(language, DAY_NAMES["en"])
    parts = []
    for index, day in enumerate(DAYS):
        ranges = hours.get(day) or []
        if ranges:
            parts.append(f"{names[index]} " + ", ".join(f"{a}-{b}" for a, b in ranges))
    return "; ".join(parts) or (_("fermé") if language == "fr" else _("closed"))


def opening_text(moment: dt.datetime | None, language: str) -> str:
    """'mardi 09:00' for the next opening."""
    if moment is None:
        return ""
    names = DAY_NAMES.get(language, DAY_NAMES["en"])
    return f"{names[moment.weekday()]} {moment:%H:%M}"
