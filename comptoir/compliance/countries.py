"""Sending rules per country, as data; a workspace may override any part of its own.

Sources (see ../shared/COMPLIANCE.md): France — the operators' (af2m) charter and common
practice: marketing Monday to Saturday 08:00-21:30, not on public holidays. United
States — TCPA, 47 CFR 64.1200(c)(1): 08:00-21:00 in the recipient's time zone.
Service messages are never held by these windows.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import holidays

log = logging.getLogger(__name__)

EVERY_DAY = frozenset(range(7))
MONDAY_TO_SATURDAY = frozenset(range(6))


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # Monday is 0
    start: dt.time
    end: dt.time
    skip_holidays: bool


@dataclass(frozen=True)
class CountryPolicy:
    country: str
    marketing_window: Window
    opt_out_mention: str
    cap_count: int = 1  # marketing messages per contact …
    cap_days: int = 30  # … per this many days
    sender_name: str = ""


POLICIES: Mapping[str, CountryPolicy] = {
    "FR": CountryPolicy(
        "FR", Window(MONDAY_TO_SATURDAY, dt.time(8), dt.time(21, 30), True), "STOP SMS : STOP"
    ),
    "BE": CountryPolicy(
        "BE", Window(MONDAY_TO_SATURDAY, dt.time(8), dt.time(21, 30), True), "STOP SMS : STOP"
    ),
    "US": CountryPolicy(
        "US", Window(EVERY_DAY, dt.time(8), dt.time(21), False), "Reply STOP to opt out"
    ),
    "CA": CountryPolicy(
        "CA", Window(EVERY_DAY, dt.time(8), dt.time(21), False), "Reply STOP to opt out"
    ),
    "GB": CountryPolicy(
        "GB", Window(EVERY_DAY, dt.time(8), dt.time(21), False), "Reply STOP to opt out"
    ),
}
# For a country we have no data on: a conservative window, and a warning in the log.
FALLBACK = CountryPolicy(
    "", Window(MONDAY_TO_SATURDAY, dt.time(9), dt.time(20), True), "Reply STOP to opt out"
)


def _parse_window(data: Mapping[str, Any], base: Window) -> Window:
    return Window(
        days=frozenset(data.get("days", base.days)),
        start=dt.time.fromisoformat(data["start"]) if "start" in data else base.start,
        end=dt.time.fromisoformat(data["end"]) if "end" in data else base.end,
        skip_holidays=bool(data.get("skip_holidays", base.skip_holidays)),
    )


def policy_for(
    country: str | None, *, default_country: str, overrides: Mapping[str, Any]
) -> CountryPolicy:
    """The policy for a recipient's country, with the workspace's overrides applied.

    An unknown country falls back to the workspace's own country's policy (with a warning),
    then to FALLBACK.
    """
    policy = POLICIES.get(country or "")
    if policy is None:
        if country:
            log.warning(
                "no sending policy for %s: using the workspace's (%s)", country, default_country
            )
        policy = POLICIES.get(default_country, FALLBACK)
    if not overrides:
        return policy
    changes: dict[str, Any] = {
        k: overrides[k]
        for k in ("opt_out_mention", "cap_count", "cap_days", "sender_name")
        if k in overrides
    }
    if "marketing_window" in overrides:
        changes["marketing_window"] = _parse_window(
            overrides["marketing_window"], policy.marketing_window
        )
    return replace(policy, **changes)


@cache
def _holidays(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


def is_holiday(country: str, day: dt.date) -> bool:
    try:
        return day in _holidays(country, day.year)
    except NotImplementedError:
        return False  # the holidays package has no calendar for it


def next_opening(
    window: Window, country: str, at: dt.datetime, tz: dt.tzinfo
) -> tuple[dt.datetime, str] | None:
    """None when `at` is inside the window; else the next opening and why it is closed.

    The reason is "holiday" when a public holiday is what closes it, else "quiet_hours".
    """
    local = at.astimezone(tz)
    reason = ""
    for offset in range(15):
        day = local.date() + dt.timedelta(days=offset)
        if day.weekday() not in window.days:
            reason = reason or "quiet_hours"
            continue
        if window.skip_holidays and is_holiday(country, day):
            reason = reason or "holiday"
            continue
        opening = dt.datetime.combine(day, window.start, tzinfo=tz)
        closing = dt.datetime.combine(day, window.end, tzinfo=tz)
        if offset == 0 and opening <= local < closing:
            return None
        if local < opening:
            return opening.astimezone(dt.UTC), reason or "quiet_hours"
        reason = reason or "quiet_hours"
    raise ValueError(f"the sending window {window} never opens")


def marketing_text(body: str, policy: CountryPolicy) -> str:
    """The body as it must go: the sender's name first when configured, and the opt-out
    mention at the end when the text does not already offer one (CNIL: name the sender,
    offer a free opt-out in every marketing message)."""
    from comptoir.compliance.keywords import normalize

    text = body.strip()
    name = policy.sender_name.strip()
    if name and not normalize(text).startswith(normalize(name)):
        text = f"{name} : {text}" if policy.country == "FR" else f"{name}: {text}"
    mention = policy.opt_out_mention.strip()
    if mention and "stop" not in normalize(text).split():
        text = f"{text} {mention}"
    return text


def policy_overrides_validate(overrides: Mapping[str, Any]) -> None:
    """Refuse overrides that would not work, naming the field (before they are saved)."""
    from comptoir.core.errors import ValidationError

    known = {
        "marketing_window",
        "cap_count",
        "cap_days",
        "opt_out_mention",
        "sender_name",
        "retention_days",
        "retention_mode",
    }
    for key in overrides:
        if key not in known:
            raise ValidationError(f"Unknown policy setting {key!r}.", field=f"policy.{key}")
    window = overrides.get("marketing_window", {})
    for name in ("start", "end"):
        if name in window:
            try:
                dt.time.fromisoformat(str(window[name]))
            except ValueError as exc:
                raise ValidationError(
                    f"{window[name]!r} is not a time of day (use 08:00).",
                    field=f"policy.marketing_window.{name}",
                ) from exc
    days = window.get("days", [0])
    if not days or any(not isinstance(d, int) or not 0 <= d <= 6 for d in days):
        raise ValidationError(
            "days are 0 (Monday) to 6 (Sunday), at least one.",
            field="policy.marketing_window.days",
        )
    if overrides.get("retention_mode", "erase") not in ("erase", "anonymise"):
        raise ValidationError(
            "retention_mode is erase or anonymise.", field="policy.retention_mode"
        )
    for name in ("cap_count", "cap_days", "retention_days"):
        if name in overrides and (not isinstance(overrides[name], int) or overrides[name] < 1):
            raise ValidationError(
                f"{name} must be a whole number of at least 1.", field=f"policy.{name}"
            )
