"""The sender: claims due messages per channel, paces them, calls the adapter, records.

A run holds no transaction while the provider is called. Each batch goes:
1. claim (one transaction): due `queued` rows in priority order, `FOR UPDATE SKIP LOCKED`
   on PostgreSQL, get a claim token and a lease; SQLite serialises writers instead;
2. compliance again (a STOP may have come since the message was queued);
3. `sending` (one UPDATE, guarded by the claim token) just before the adapter is called;
4. the adapter's results recorded (one transaction) with a transition row each.
A crash before 3 leaves a lease that expires; after 3 the reaper settles it (see reaper).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from comptoir.channels.models import Channel, ChannelStatus
from comptoir.compliance.policy import Candidate, Context, Refusal, refusals
from comptoir.core.bulk import convert, insert_rows
from comptoir.dispatch import ratelimit
from comptoir.messaging.inbound import pending_receipts_apply
from comptoir.messaging.models import Message, MessageTransition, Status
from comptoir.providers.base import (
    ChannelConfig,
    Outcome,
    OutgoingMessage,
    ProviderType,
    SendResult,
)
from comptoir.providers.registry import provider_type

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
CLAIM_FIELDS = (
    "id",
    "address",
    "body",
    "encoding",
    "segments",
    "purpose",
    "attempts",
    "contact__number_type",
    "contact__timezone",
    "contact_id",
    "kind",
)


def retry_delay(attempts: int) -> float:
    """Seconds before try number `attempts + 1`: 5 s, 10 s, 20 s … capped at 30 minutes."""
    return float(min(5 * 2 ** max(attempts - 1, 0), 1800))


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    blocked: int = 0
    more: bool = False  # stopped on the time budget with work left
    retry_in: float = 0.0  # stopped by the channel's pace: seconds until it allows more
    next_due: dt.datetime | None = None
    outcomes: dict[str, int] = field(default_factory=dict)


def _claim(channel: Channel, size: int, token: uuid.UUID) -> list[dict[str, Any]]:
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Message.objects.filter(channel=channel, status=Status.QUEUED, send_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("priority", "send_at")
            .select_for_update(skip_locked=True, of=("self",))
            .values(*CLAIM_FIELDS)[:size]
        )
        if rows:
            lease = now + dt.timedelta(seconds=settings.COMPTOIR_CLAIM_SECONDS)
            Message.objects.filter(id__in=[r["id"] for r in rows]).update(
                claim_token=token, claimed_until=lease
            )
    return rows


TRANSITION_COLUMNS = ("message_id", "status", "at", "code", "reason")


def _transitions(
    ids: Sequence[uuid.UUID], status: str, at: dt.datetime, code: str = "", reason: str = ""
) -> list[tuple[Any, ...]]:
    return [(i, status, at, code, reason) for i in ids]


def _mark_sent(sent: Sequence[tuple[str, uuid.UUID]], now: dt.datetime) -> None:
    """→ sent, each with its provider id (one statement on PostgreSQL); the caller holds
    these rows, locked, in its transaction."""
    table = connection.ops.quote_name(Message._meta.db_table)
    values = "SET status = 'sent', provider_id = v.pid, sent_at = %s, claim_token = NULL, "
    values += "claimed_until = NULL, error_code = '', error_reason = '' "
    at = convert(Message._meta.get_field("sent_at"), now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The table name comes from the model; every value is a parameter.
            cursor.execute(
                f"UPDATE {table} AS m {values}"
                "FROM unnest(%s::varchar[], %s::uuid[]) AS v(pid, id) "
                "WHERE m.id = v.id",
                [at, [pid for pid, _ in sent], [i for _, i in sent]],
            )
            return
        id_field = Message._meta.get_field("id")
        cursor.executemany(
            f"UPDATE {table} {values.replace('v.pid', '%s')}WHERE id = %s",
            [(pid, at, convert(id_field, i)) for pid, i in sent],
        )


def _block(channel: Channel, rows: list[dict[str, Any]], token: uuid.UUID) -> list[dict[str, Any]]:
    """Compliance just before sending; returns the rows that may still go now.

    Refused messages become `blocked`; deferred ones (outside sending hours) go back to
    the queue for their new time, without using up an attempt.
    """
    candidates = [
        Candidate(
            r["id"],
            channel.scheme,
            r["contact__number_type"] or "unknown",
            r["purpose"],
            contact_id=r["contact_id"],
            kind=r["kind"],
            phone=r["address"],
            workspace_id=channel.workspace_id,
            contact_tz=r["contact__timezone"] or "",
        )
        for r in rows
    ]
    found = refusals(candidates, Context(workspace=channel.workspace, stage="send"))
    if not found:
        return rows
    now = timezone.now()
    # Rules hand out a few shared decisions (one per reason): one UPDATE per decision.
    by_refusal: dict[Refusal, list[uuid.UUID]] = {}
    for message_id, refusal in found.items():
        by_refusal.setdefault(refusal, []).append(message_id)
    with transaction.atomic():
        for refusal, ids in by_refusal.items():
            changes: dict[str, Any] = {"status": Status.BLOCKED, "failed_at": now}
            if refusal.until is not None:
                changes = {"send_at": refusal.until}
            Message.objects.filter(id__in=ids, claim_token=token).update(
                error_code=refusal.code,
                error_reason=refusal.reason,
                claim_token=None,
                claimed_until=None,
                **changes,
            )
        insert_rows(
            MessageTransition,
            TRANSITION_COLUMNS,
            [
                (i, Status.QUEUED if r.until else Status.BLOCKED, now, r.code, r.reason)
                for i, r in found.items()
            ],
        )
    return [r for r in rows if r["id"] not in found]


def _mark_sending(rows: list[dict[str, Any]], token: uuid.UUID) -> list[dict[str, Any]]:
    now = timezone.now()
    ids = [r["id"] for r in rows]
    updated = Message.objects.filter(id__in=ids, claim_token=token, status=Status.QUEUED).update(
        status=Status.SENDING, sending_at=now, attempts=F("attempts") + 1
    )
    if updated != len(ids):
        # Our lease ran out and another dispatcher took some: send only what is still ours.
        ours = set(
            Message.objects.filter(
                id__in=ids, claim_token=token, status=Status.SENDING, sending_at=now
            ).values_list("id", flat=True)
        )
        rows = [r for r in rows if r["id"] in ours]
    insert_rows(
        MessageTransition,
        TRANSITION_COLUMNS,
        _transitions([r["id"] for r in rows], Status.SENDING, now),
    )
    return rows


def _record(
    channel: Channel,
    rows: Sequence[dict[str, Any]],
    results: Sequence[SendResult],
    token: uuid.UUID,
    report: DispatchReport,
) -> None:
    """Record the adapter's answers for the rows this run still holds.

    A row the reaper re-queued meanwhile has lost our claim token and is left alone; one it
    marked `unknown` keeps the token, so this (late) answer still settles it.
    """
    now = timezone.now()
    with transaction.atomic():
        ours = set(
            Message.objects.filter(
                id__in=[r["id"] for r in rows],
                claim_token=token,
                status__in=[Status.SENDING, Status.UNKNOWN],
            )
            .select_for_update()
            .values_list("id", flat=True)
        )
        sent: list[tuple[str, uuid.UUID]] = []
        transitions: list[tuple[Any, ...]] = []
        # (delay, code, reason, uncounted) -> ids: one UPDATE per distinct retry.
        retry: dict[tuple[float, str, str, bool], list[uuid.UUID]] = {}
        failed: list[tuple[uuid.UUID, SendResult]] = []
        config_error: SendResult | None = None
        for row, result in zip(rows, results, strict=True):
            report.outcomes[result.outcome] = report.outcomes.get(result.outcome, 0) + 1
            if row["id"] not in ours:
                continue
            attempt = row["attempts"] + 1
            if result.outcome is Outcome.SENT:
                sent.append((result.provider_id, row["id"]))
            elif result.outcome in (Outcome.REJECTED, Outcome.CONTACT_STOPPED) or (
                result.outcome is Outcome.RETRY and attempt >= MAX_ATTEMPTS
            ):
                failed.append((row["id"], result))
            else:
                # Throttling and a misconfigured channel only slow the sender down: those
                # messages wait as long as it takes, their attempts uncounted. Failed
                # connections give up after MAX_ATTEMPTS.
                if result.outcome is Outcome.CONFIG_ERROR:
                    config_error = result
                delay = result.retry_after or retry_delay(attempt)
                code = result.error_code or result.outcome.value
                uncounted = result.outcome is not Outcome.RETRY
                retry.setdefault((delay, code, result.reason, uncounted), []).append(row["id"])
                transitions.append((row["id"], Status.QUEUED, now, code, result.reason))
        if sent:
            _mark_sent(sent, now)
            transitions += _transitions([i for _, i in sent], Status.SENT, now)
        for (delay, code, reason, uncounted), ids in retry.items():
            Message.objects.filter(id__in=ids).update(
                status=Status.QUEUED,
                send_at=now + dt.timedelta(seconds=delay),
                claim_token=None,
                claimed_until=None,
                error_code=code,
                error_reason=reason,
                attempts=F("attempts") - 1 if uncounted else F("attempts"),
            )
        for message_id, result in failed:
            code = result.error_code or result.outcome.value
            Message.objects.filter(id=message_id).update(
                status=Status.FAILED,
                failed_at=now,
                error_code=code,
                error_reason=result.reason,
                claim_token=None,
                claimed_until=None,
            )
            transitions.append((message_id, Status.FAILED, now, code, result.reason))
        insert_rows(MessageTransition, TRANSITION_COLUMNS, transitions)
        if config_error is not None:
            Channel.objects.filter(id=channel.id).update(
                status=ChannelStatus.FAILING, status_reason=config_error.reason
            )
        elif sent and channel.status == ChannelStatus.FAILING:
            Channel.objects.filter(id=channel.id).update(
                status=ChannelStatus.ACTIVE, status_reason=""
            )
    if sent:
        # A receipt may have beaten us to it (the provider called back before answering).
        pending_receipts_apply(channel=channel, provider_ids=[pid for pid, _ in sent])
    report.sent += len(sent)
    report.failed += len(failed)
    report.retried += sum(len(ids) for ids in retry.values())


def _release(rows: Sequence[dict[str, Any]], token: uuid.UUID) -> None:
    """Let go of claimed rows not yet handed to the provider: the next run takes them."""
    if rows:
        Message.objects.filter(
            id__in=[r["id"] for r in rows], claim_token=token, status=Status.QUEUED
        ).update(claim_token=None, claimed_until=None)


def _redacted(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return text


def _send_batch(
    channel: Channel,
    ptype: ProviderType,
    config: ChannelConfig,
    rows: list[dict[str, Any]],
    token: uuid.UUID,
    deadline: float,
    report: DispatchReport,
) -> bool:
    """Send claimed rows in adapter-sized chunks at the channel's pace; False to stop."""
    for start in range(0, len(rows), ptype.batch_size):
        chunk = rows[start : start + ptype.batch_size]
        rest = rows[start + len(chunk) :]
        segments = sum(r["segments"] for r in chunk)
        wait = ratelimit.acquire(str(channel.id), channel.rate_limit, segments, deadline=deadline)
        if wait:
            # Over budget for this run: come back when the channel's pace allows.
            _release(chunk + rest, token)
            report.retry_in = wait
            return False
        chunk = _mark_sending(chunk, token)
        if not chunk:
            continue
        outgoing = [
            OutgoingMessage(
                reference=str(r["id"]),
                to=r["address"],
                sender=config.address,
                body=r["body"],
                encoding=r["encoding"],
                segments=r["segments"],
            )
            for r in chunk
        ]
        try:
            results = ptype.send_many(config, outgoing)
        except Exception as exc:
            # The adapter broke its contract; the provider may or may not have the messages,
            # so they stay `sending` for the reaper to settle rather than risk a duplicate.
            secrets = ptype.redact_values(config)
            # No traceback: it could carry credentials.
            log.error(
                "adapter %s raised on channel %s: %s",
                ptype.code,
                channel.id,
                _redacted(f"{type(exc).__name__}: {exc}", secrets),
            )
            _release(rest, token)
            return False
        _record(channel, chunk, results, token, report)
        throttled = [r for r in results if r.outcome is Outcome.THROTTLED]
        if throttled:
            _release(rest, token)
            report.retry_in = max(r.retry_after or 1.0 for r in throttled)
            return False
    return True


def dispatch_channel(
    channel_id: uuid.UUID | str, *, budget: float = 5.0, batch: int | None = None
) -> DispatchReport:
    """Send what is due on one channel for up to `budget` seconds."""
    report = DispatchReport()
    channel = Channel.objects.select_related("workspace").filter(id=channel_id).first()
    if channel is None or channel.status == ChannelStatus.DISABLED:
        return report
    ptype = provider_type(channel.provider)
    config = channel.as_config()
    size = batch or settings.COMPTOIR_DISPATCH_BATCH
    if channel.rate_limit:
        # Claim no more than a couple of seconds' worth, so leases stay short.
        size = max(1, min(size, int(channel.rate_limit * 2)))
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        token = uuid.uuid4()
        rows = _claim(channel, size, token)
        if not rows:
            break
        report.claimed += len(rows)
        may_go = _block(channel, rows, token)
        report.blocked += len(rows) - len(may_go)
        if not _send_batch(channel, ptype, config, may_go, token, deadline, report):
            break
    else:
        report.more = True
    if not report.more and not report.retry_in:
        now = timezone.now()
        report.next_due = (
            Message.objects.filter(channel=channel, status=Status.QUEUED)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("send_at")
            .values_list("send_at", flat=True)
            .first()
        )
    return report
