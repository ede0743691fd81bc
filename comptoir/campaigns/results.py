"""What a campaign gave: counts, skipped by reason, clicks, replies, opt-outs, cost, timeline.

Read-only selectors, a fixed handful of grouped queries whatever the audience size (no
per-recipient query). Test sends are never counted: they have no recipient row, and
their links are marked as tests.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import Substr, Trunc
from django.utils import timezone

from comptoir.campaigns.fanout import HELD, campaign_messages
from comptoir.campaigns.models import (
    AgentClass,
    Campaign,
    CampaignRecipient,
    LinkClick,
    RecipientStatus,
)
from comptoir.campaigns.prices import CURRENCY, country_of_prefix, segment_price
from comptoir.compliance.models import ConsentAction, ConsentEvent
from comptoir.messaging.models import Direction, Message, Status

# Replies and opt-outs count this long after the launch.
RESPONSE_DAYS = 7
TIMELINE_BUCKETS = 24


@dataclass(frozen=True)
class Reason:
    code: str
    reason: str
    count: int


@dataclass
class Results:
    recipients: int = 0
    pending: int = 0
    created: int = 0  # messages written
    queued: int = 0
    held: int = 0
    deferred: int = 0  # queued for later: quiet hours or a holiday
    sending: int = 0
    sent: int = 0  # accepted by the provider (delivered ones included)
    delivered: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0  # at launch or when sending, all reasons
    skipped_by_reason: list[Reason] = field(default_factory=list)
    clicks: int = 0
    unique_clicks: int = 0
    replies: int = 0
    opt_outs: int = 0
    segments_sent: int = 0
    cost: Decimal = Decimal(0)
    currency: str = CURRENCY
    timeline: list[dict[str, Any]] = field(default_factory=list)
    funnel: list[dict[str, Any]] = field(default_factory=list)


def campaign_results(campaign: Campaign, *, now: dt.datetime | None = None) -> Results:
    now = now or timezone.now()
    out = Results()
    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    by_status = dict(
        recipients.order_by().values("status").annotate(n=Count("id")).values_list("status", "n")
    )
    out.recipients = sum(by_status.values())
    if campaign.fanned_out_at is None:
        out.pending = max(campaign.recipients_count - out.recipients, 0)
    reasons: dict[str, list[Any]] = {}
    for code, reason, n in (
        recipients.filter(status=RecipientStatus.SKIPPED)
        .order_by()
        .values("skip_code")
        .annotate(n=Count("id"), reason=Max("skip_reason"))
        .values_list("skip_code", "reason", "n")
    ):
        reasons[code] = [reason, n]
    messages = campaign_messages(campaign)
    statuses = dict(
        messages.order_by().values("status").annotate(n=Count("id")).values_list("status", "n")
    )
    out.created = sum(statuses.values())
    out.queued = statuses.get(Status.QUEUED, 0)
    out.held = statuses.get(HELD, 0)
    out.sending = statuses.get(Status.SENDING, 0)
    out.delivered = statuses.get(Status.DELIVERED, 0)
    out.failed = statuses.get(Status.FAILED, 0)
    out.unknown = statuses.get(Status.UNKNOWN, 0)
    out.deferred = messages.filter(
        status=Status.QUEUED, error_code__in=["quiet_hours", "holiday"]
    ).count()
    # Refused at send time (a STOP came in since the launch), or cancelled.
    for code, reason, n in (
        messages.filter(status=Status.BLOCKED)
        .order_by()
        .values("error_code")
        .annotate(n=Count("id"), reason=Max("error_reason"))
        .values_list("error_code", "reason", "n")
    ):
        entry = reasons.setdefault(code, [reason, 0])
        entry[1] += n
    out.skipped_by_reason = sorted(
        (Reason(code, reason, n) for code, (reason, n) in reasons.items()),
        key=lambda r: (-r.count, r.code),
    )
    out.skipped = sum(r.count for r in out.skipped_by_reason)
    went = messages.filter(sent_at__isnull=False)
    out.sent = went.count()
    cost = Decimal(0)
    for prefix, segments in (
        went.order_by()
        .annotate(prefix=Substr("address", 1, 4))
        .values("prefix")
        .annotate(s=Sum("segments"))
        .values_list("prefix", "s")
    ):
        out.segments_sent += segments or 0
        cost += segment_price(country_of_prefix(prefix or "")) * (segments or 0)
    out.cost = cost.quantize(Decimal("0.01"))
    clicks = _clicks(campaign)
    out.clicks = clicks.count()
    out.unique_clicks = clicks.values("link__contact_id").distinct().count()
    if campaign.launched_at is not None:
        until = campaign.launched_at + dt.timedelta(days=RESPONSE_DAYS)
        contacts = recipients.filter(status=RecipientStatus.QUEUED).values("contact_id")
        out.replies = (
            Message.objects.filter(
                workspace=campaign.workspace_id,
                direction=Direction.IN,
                contact_id__in=contacts,
                created_at__gte=campaign.launched_at,
                created_at__lt=until,
            )
            .values("contact_id")
            .distinct()
            .count()
        )
        out.opt_outs = (
            ConsentEvent.objects.filter(
                contact_id__in=contacts,
                action=ConsentAction.REVOKED,
                at__gte=campaign.launched_at,
                at__lt=until,
            )
            .values("contact_id")
            .distinct()
            .count()
        )
    out.timeline = campaign_timeline(campaign, now=now)
    out.funnel = _funnel(out)
    return out


def _clicks(campaign: Campaign) -> Any:
    """People's clicks on the campaign's links: tests and link-preview robots left out."""
    return LinkClick.objects.filter(link__campaign=campaign, link__is_test=False).exclude(
        agent_class=AgentClass.BOT
    )


def _funnel(results: Results) -> list[dict[str, Any]]:
    steps = [
        ("recipients", results.recipients),
        ("messages", results.created - _cancelled(results)),
        ("sent", results.sent),
        ("delivered", results.delivered),
        ("clicked", results.unique_clicks),
        ("replied", results.replies),
    ]
    top = max(results.recipients, 1)
    return [{"step": s, "count": n, "percent": round(100 * n / top, 1)} for s, n in steps]


def _cancelled(results: Results) -> int:
    return sum(r.count for r in results.skipped_by_reason if r.code == "campaign_cancelled")


def campaign_timeline(
    campaign: Campaign, *, now: dt.datetime | None = None, buckets: int = TIMELINE_BUCKETS
) -> list[dict[str, Any]]:
    """Sent, delivered and clicks per time slice, from the launch to the last event.

    Counted in SQL per minute, hour or day (whichever keeps it to a few hundred rows for
    the campaign's span), then gathered into `buckets` slices here.
    """
    if campaign.launched_at is None:
        return []
    now = now or timezone.now()
    messages = campaign_messages(campaign)
    span = messages.aggregate(last_sent=Max("sent_at"), last_delivered=Max("delivered_at"))
    last_click = _clicks(campaign).aggregate(last=Max("at"))["last"]
    start = campaign.launched_at
    end = max([t for t in (span["last_sent"], span["last_delivered"], last_click) if t] or [start])
    end = min(max(end, start + dt.timedelta(minutes=1)), now + dt.timedelta(minutes=1))
    width = (end - start) / buckets
    unit = "minute" if end - start <= dt.timedelta(hours=6) else "hour"
    if end - start > dt.timedelta(days=10):
        unit = "day"
    series = {
        "sent": (messages, "sent_at"),
        "delivered": (messages, "delivered_at"),
        "clicks": (_clicks(campaign), "at"),
    }
    rows = [
        {"at": start + width * i, "sent": 0, "delivered": 0, "clicks": 0} for i in range(buckets)
    ]
    for name, (rows_of, column) in series.items():
        counted = (
            rows_of.filter(**{f"{column}__isnull": False})
            .order_by()
            .annotate(slot=Trunc(column, unit, tzinfo=dt.UTC))
            .values("slot")
            .annotate(n=Count("pk"))
            .values_list("slot", "n")
        )
        for slot, n in counted:
            index = min(max(int((slot - start) / width), 0), buckets - 1)
            rows[index][name] += n
    return rows


CSV_HEADER = [
    "phone",
    "first_name",
    "last_name",
    "recipient_status",
    "skip_code",
    "skip_reason",
    "message_status",
    "error_code",
    "error_reason",
    "segments",
    "sent_at",
    "delivered_at",
    "clicks",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def campaign_csv(campaign: Campaign) -> Iterator[str]:
    """One line per recipient, streamed (an audience is never all in memory)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    rows = (
        CampaignRecipient.objects.filter(campaign=campaign)
        .order_by("id")
        .annotate(
            clicks=Count(
                "contact__campaign_links__clicks",
                filter=Q(contact__campaign_links__campaign=campaign)
                & Q(contact__campaign_links__is_test=False)
                & ~Q(contact__campaign_links__clicks__agent_class=AgentClass.BOT),
            )
        )
        .values_list(
            "contact__phone",
            "contact__first_name",
            "contact__last_name",
            "status",
            "skip_code",
            "skip_reason",
            "message__status",
            "message__error_code",
            "message__error_reason",
            "message__segments",
            "message__sent_at",
            "message__delivered_at",
            "clicks",
        )
    )
    for row in rows.iterator(chunk_size=2000):
        yield writer.writerow([_cell(v) for v in row])


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str) and (
        value[:1] in ("=", "@", "\t", "\r")
        or (value[:1] in ("+", "-") and not value[1:].replace(".", "", 1).isdigit())
    ):
        # A name typed as a formula must not run in the owner's spreadsheet.
        return "'" + value
    return value
