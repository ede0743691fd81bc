"""Survey results: how customers scored the shop, per month and per store.

A month holds the surveys sent in it (in the workspace's time zone) and the scores they
got, so its response rate (responses / surveys sent) never counts a reply against
another month's sends. Four queries, whatever the number of responses.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.db.models import CharField, Count, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, NullIf, TruncMonth
from django.utils import timezone

from comptoir.automations.models import RunStatus, ScheduledRun
from comptoir.core.errors import ValidationError
from comptoir.surveys.models import Survey, SurveyResponse
from comptoir.workspaces.models import Workspace

SCORES = (1, 2, 3, 4, 5)
MAX_MONTHS = 24


@dataclass
class Distribution:
    """How many of each score, out of how many surveys sent."""

    counts: list[int] = field(default_factory=lambda: [0] * len(SCORES))
    sent: int = 0

    @property
    def responses(self) -> int:
        return sum(self.counts)

    @property
    def average(self) -> float | None:
        if not self.responses:
            return None
        return round(
            sum(s * n for s, n in zip(SCORES, self.counts, strict=True)) / self.responses, 2
        )

    @property
    def response_rate(self) -> float | None:
        return round(self.responses / self.sent, 3) if self.sent else None

    @property
    def bars(self) -> list[tuple[int, int, int]]:
        """(score, count, percent of the largest count) for a bar chart."""
        top = max(self.counts) or 1
        return [(s, n, round(100 * n / top)) for s, n in zip(SCORES, self.counts, strict=True)]

    @property
    def shares(self) -> list[tuple[int, int, float]]:
        """(score, count, percent of the responses) for a stacked bar."""
        total = self.responses or 1
        return [(s, n, round(100 * n / total, 1)) for s, n in zip(SCORES, self.counts, strict=True)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": {str(s): n for s, n in zip(SCORES, self.counts, strict=True)},
            "responses": self.responses,
            "average": self.average,
            "sent": self.sent,
            "response_rate": self.response_rate,
        }


@dataclass
class Results:
    months: list[tuple[dt.date, Distribution]]
    stores: list[tuple[str, Distribution]]
    total: Distribution


def _month_starts(now: dt.datetime, tz: zoneinfo.ZoneInfo, months: int) -> list[dt.date]:
    local = now.astimezone(tz)
    year, month = local.year, local.month
    starts = []
    for _ in range(months):
        starts.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def _as_date(value: Any, tz: zoneinfo.ZoneInfo) -> dt.date:
    if isinstance(value, dt.datetime):
        return (value.astimezone(tz) if timezone.is_aware(value) else value).date()
    return value  # type: ignore[no-any-return]


def _store(prefix: str) -> Any:
    """The purchase's store: the event's data `store`, else `place`, else ""."""
    # SQLite reads a JSON null as the text "null"; PostgreSQL as NULL.
    return Coalesce(
        *(
            NullIf(NullIf(KeyTextTransform(key, f"{prefix}data"), Value("")), Value("null"))
            for key in ("store", "place")
        ),
        Value(""),
        output_field=CharField(),
    )


def survey_results(
    workspace: Workspace | Any,
    *,
    survey: Survey | None = None,
    months: int = 12,
    now: dt.datetime | None = None,
) -> Results:
    """The distribution of scores per month (the last `months`, this one included), per
    store, and in all, for one survey or all of the workspace's."""
    if not 1 <= months <= MAX_MONTHS:
        raise ValidationError(f"months is 1 to {MAX_MONTHS}.", field="months")
    tz = zoneinfo.ZoneInfo(workspace.timezone)
    starts = _month_starts(now or timezone.now(), tz, months)
    since = dt.datetime.combine(starts[0], dt.time(0), tzinfo=tz)
    runs: QuerySet[ScheduledRun] = ScheduledRun.objects.for_workspace(workspace).filter(
        status=RunStatus.SENT, fired_at__gte=since, rule__survey__isnull=False
    )
    responses = SurveyResponse.objects.for_workspace(workspace).filter(run__fired_at__gte=since)
    if survey is not None:
        runs = runs.filter(rule__survey=survey)
        responses = responses.filter(survey=survey)
    by_month = {start: Distribution() for start in starts}
    for row in (
        runs.annotate(month=TruncMonth("fired_at", tzinfo=tz))
        .values("month")
        .annotate(n=Count("id"))
    ):
        by_month[_as_date(row["month"], tz)].sent += row["n"]
    for row in (
        responses.annotate(month=TruncMonth("run__fired_at", tzinfo=tz))
        .values("month", "score")
        .annotate(n=Count("id"))
    ):
        by_month[_as_date(row["month"], tz)].counts[row["score"] - 1] += row["n"]
    by_store: dict[str, Distribution] = {}
    stores_sent = runs.annotate(store=_store("event__")).values("store").annotate(n=Count("id"))
    for sent in stores_sent:
        by_store.setdefault(sent["store"][:200], Distribution()).sent += sent["n"]
    for got in responses.values("store", "score").annotate(n=Count("id")):
        by_store.setdefault(got["store"], Distribution()).counts[got["score"] - 1] += got["n"]
    total = Distribution()
    for distribution in by_month.values():
        total.sent += distribution.sent
        total.counts = [a + b for a, b in zip(total.counts, distribution.counts, strict=True)]
    stores = sorted(by_store.items(), key=lambda item: (-item[1].responses, item[0]))
    return Results(months=list(by_month.items()), stores=stores, total=total)


def surveys_list(workspace: Workspace | Any) -> list[Survey]:
    """The workspace's surveys with their rules, oldest first."""
    return list(
        Survey.objects.for_workspace(workspace).select_related("rule").order_by("created_at", "id")
    )
