"""The sender: claims due messages per channel, paces them, calls the adapter, records.

A run holds no transaction while the provider is called. Each batch goes:
1. claim (one transaction): due `queued` rows in priority order (transactional first),
   `FOR UPDATE SKIP LOCKED` on PostgreSQL, a claim token and a lease; SQLite serialises
   writers instead;
2. compliance again (a STOP may have come since the message was queued);
3. per slice of a tenth of a second's worth: a place under the channel's rate limit and
   its shared account's (ratelimit), then `sending` (one UPDATE, guarded by the claim
   token) just before the adapter is called;
4. the adapter's results recorded (one transaction) with a transition row each, and the
   channel's health counted (failover).
On a channel without a rate limit, 1 to 3 are one transaction (`claims.claim_sending`):
nothing is waited for between them, and the batch is one adapter call.
A crash before 3 leaves a lease that expires; after 3 the reaper settles it (see reaper).
A channel whose provider keeps failing hands its queue to its backup (see failover).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from comptoir.channels.models import Channel, ChannelStatus
from comptoir.compliance.provider_optout import provider_optouts_at_send
from comptoir.core.bulk import insert_rows
from comptoir.dispatch import claims, failover, ratelimit, voice
from comptoir.dispatch.models import SharedLimit
from comptoir.dispatch.recorder import Recorder, all_sent
from comptoir.messaging.failures import messages_failed
from comptoir.messaging.history import transitions_add
from comptoir.messaging.models import TRANSITION_COLUMNS, Message, MessageTransition, Status
from comptoir.messaging.receipts import pending_receipts_apply
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
# A rate-limited channel sends in slices of this many seconds' worth: small enough that
# its pace is even and channels sharing an account interleave, big enough to batch.
PACE_SLICE = 0.1
# The channel config key naming a SharedLimit (a provider account shared by channels).
SHARED_LIMIT_KEY = "shared_limit_key"


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
    unconfirmed: int = 0  # the provider may have them: `unknown`, never re-sent
    moved: int = 0  # handed to the backup channel (failover)
    tripped: bool = False  # the channel's provider failed too often: its queue moves
    more: bool = False  # stopped on the time budget with work left
    retry_in: float = 0.0  # stopped by the channel's pace: seconds until it allows more
    next_due: dt.datetime | None = None
    outcomes: dict[str, int] = field(default_factory=dict)


def _record(
    channel: Channel,
    rows: Sequence[dict[str, Any]],
    results: Sequence[SendResult],
    token: uuid.UUID,
    report: DispatchReport,
) -> None:
    """Record the adapter's answers for the rows this run still holds.

    A row the reaper re-queued meanwhile has lost our claim token and is left alone; one it
    marked `unknown` keeps the token, so this (late) answer still settles it. Every answer
    counts towards the channel's health (failover), ours or not.
    """
    now = timezone.now()
    with transaction.atomic():
        # A batch the provider took whole needs no look-up: the guarded UPDATE marking it
        # `sent` (below) says which rows were still ours.
        ours = None if all_sent(results) else claims.held([r["id"] for r in rows], token)
        sent: list[tuple[str, uuid.UUID]] = []
        transitions: list[tuple[Any, ...]] = []
        # (delay, code, reason, uncounted) -> ids: one UPDATE per distinct retry.
        retry: dict[tuple[float, str, str, bool], list[uuid.UUID]] = {}
        failed: list[tuple[uuid.UUID, SendResult]] = []
        unconfirmed: list[tuple[uuid.UUID, SendResult]] = []
        stopped: list[tuple[dict[str, Any], SendResult]] = []
        for row, result in zip(rows, results, strict=True):
            report.outcomes[result.outcome] = report.outcomes.get(result.outcome, 0) + 1
            if ours is not None and row["id"].hex not in ours:
                continue
            attempt = row["attempts"] + 1
            if result.outcome is Outcome.SENT:
                sent.append((result.provider_id, row["id"]))
            elif result.outcome is Outcome.UNCONFIRMED:
                unconfirmed.append((row["id"], result))
            elif result.outcome in (Outcome.REJECTED, Outcome.CONTACT_STOPPED) or (
                result.outcome is Outcome.RETRY and attempt >= MAX_ATTEMPTS
            ):
                failed.append((row["id"], result))
                if result.outcome is Outcome.CONTACT_STOPPED:
                    stopped.append((row, result))
            else:
                # Throttling and a misconfigured channel only slow the sender down: those
                # messages wait as long as it takes, their attempts uncounted. Failed
                # connections give up after MAX_ATTEMPTS.
                delay = result.retry_after or retry_delay(attempt)
                code = result.error_code or result.outcome.value
                uncounted = result.outcome is not Outcome.RETRY
                retry.setdefault((delay, code, result.reason, uncounted), []).append(row["id"])
                transitions.append((row["id"], Status.QUEUED, now, code, result.reason))
        if sent:
            marked = claims.mark_sent(sent, token, now)
            if len(marked) != len(sent):  # the reaper re-queued some meanwhile
                sent = [(pid, i) for pid, i in sent if i.hex in marked]
            transitions_add(list(marked), Status.SENT, now)
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
        for message_id, result in unconfirmed:
            # Like a send the reaper cannot settle: a person decides, a late receipt may.
            code = result.error_code or result.outcome.value
            Message.objects.filter(id=message_id).update(
                status=Status.UNKNOWN, error_code=code, error_reason=result.reason,
                claimed_until=None,
            )  # fmt: skip
            transitions.append((message_id, Status.UNKNOWN, now, code, result.reason))
        insert_rows(MessageTransition, TRANSITION_COLUMNS, transitions)
        messages_failed([message_id for message_id, _ in failed])
        if stopped:
            provider_optouts_at_send(channel, stopped)
        report.tripped = failover.health_record(channel=channel, results=results, now=now)
    if sent:
        provider_ids = [pid for pid, _ in sent]
        # A receipt may have beaten us to it (the provider called back before answering).
        pending_receipts_apply(channel=channel, provider_ids=provider_ids)
        provider_type(channel.provider).recorded(str(channel.id), provider_ids)
    report.sent += len(sent)
    report.failed += len(failed)
    report.unconfirmed += len(unconfirmed)
    report.retried += sum(len(ids) for ids in retry.values())


def _redacted(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return text


def _limits(channel: Channel) -> list[ratelimit.Limit]:
    """The channel's own rate limit, and its shared account's when it names one."""
    limits = []
    if channel.rate_limit:
        limits.append(ratelimit.Limit(str(channel.id), channel.rate_limit))
    key = channel.config.get(SHARED_LIMIT_KEY)
    if key:
        shared = SharedLimit.objects.filter(key=key).values_list("rate_limit", flat=True).first()
        if shared is None:
            log.warning(
                "channel %s names shared limit %r, which does not exist: not applied",
                channel.id,
                key,
            )
        else:
            limits.append(ratelimit.Limit(f"shared:{key}", shared))
    return limits


def _hand_to_provider(
    channel: Channel, ptype: ProviderType, config: ChannelConfig, rows: list[dict[str, Any]]
) -> list[SendResult]:
    """Texts in one `send_many`, voice messages one `call` each; results in `rows` order."""
    texts = [r for r in rows if r["medium"] != "voice"]
    outgoing = [
        OutgoingMessage(
            reference=str(r["id"]),
            to=r["address"],
            sender=config.address,
            body=r["body"],
            encoding=r["encoding"],
            segments=r["segments"],
            subject=r["subject"],
        )
        for r in texts
    ]
    by_id = dict(zip([r["id"] for r in texts], ptype.send_many(config, outgoing), strict=True))
    language = channel.workspace.language
    for row in rows:
        if row["medium"] == "voice":
            by_id[row["id"]] = voice.call_place(ptype, config, row, language)
    return [by_id[r["id"]] for r in rows]


def _send_batch(
    channel: Channel,
    ptype: ProviderType,
    config: ChannelConfig,
    rows: list[dict[str, Any]],
    token: uuid.UUID,
    deadline: float,
    report: DispatchReport,
    recorder: Recorder,
    *,
    marked: bool = False,
) -> bool:
    """Send claimed rows in adapter-sized slices at the channel's pace; False to stop.
    `marked`: the rows are `sending` already, one slice (see claims.claim_sending)."""
    limits = [] if marked else _limits(channel)
    size = max(len(rows), 1) if marked else ptype.batch_size
    if limits:
        size = max(1, min(size, int(min(lim.rate for lim in limits) * PACE_SLICE)))
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        rest = rows[start + len(chunk) :]
        wait = ratelimit.acquire(limits, sum(r["segments"] for r in chunk), deadline=deadline)
        if wait:
            # Over budget for this run: come back when the channel's pace allows.
            claims.release(chunk + rest, token)
            report.retry_in = wait
            return False
        if not marked:
            chunk = claims.mark_sending(chunk, token)
        if not chunk:
            continue
        try:
            results = _hand_to_provider(channel, ptype, config, chunk)
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
            claims.release(rest, token)
            return False
        if all_sent(results):
            recorder.submit(channel, chunk, results, token)  # written while the next goes
            continue
        recorder.drain()
        _record(channel, chunk, results, token, report)
        if report.tripped:
            # Not one more through a provider that is down: the rest goes to the backup.
            claims.release(rest, token)
            return False
        throttled = [r for r in results if r.outcome is Outcome.THROTTLED]
        if throttled:
            claims.release(rest, token)
            report.retry_in = max(r.retry_after or 1.0 for r in throttled)
            return False
    return True


def dispatch_channel(
    channel_id: uuid.UUID | str,
    *,
    budget: float = 5.0,
    batch: int | None = None,
    helper: Callable[[], object] | None = None,
) -> DispatchReport:
    """Send what is due on one channel for up to `budget` seconds (or hand it to the
    channel's backup while the channel is failing).

    `helper` starts one more run beside this one (another worker's, often in another
    process with a bind of its own); it is called once, when the first claim comes back
    full on a channel without a rate limit: a backlog, which two runs send faster.
    """
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
    mode = failover.mode(channel, timezone.now())
    if mode is failover.Mode.COOLING and _hand_over(channel, report):
        return report
    # A tripped channel whose cool-down is over gets one message: its answer decides.
    probe = mode is failover.Mode.PROBING
    deadline = time.monotonic() + budget
    # Without a rate limit, a claim the adapter takes whole is marked `sending` as it is
    # claimed (one UPDATE of the batch, not two): nothing is waited for in between.
    whole = not _limits(channel)
    if whole:
        size = min(size, ptype.batch_size)
    recorder = Recorder(_record, report, DispatchReport)
    try:
        while time.monotonic() < deadline:
            token = uuid.uuid4()
            if whole:
                claimed, may_go = claims.claim_sending(channel, 1 if probe else size, token)
            else:
                rows = claims.claim(channel, 1 if probe else size, token)
                claimed = len(rows)
                may_go = claims.block(channel, rows, token) if rows else []
            if not claimed:
                break
            if helper is not None and whole and claimed == size:
                helper()
                helper = None
            report.claimed += claimed
            report.blocked += claimed - len(may_go)
            going = _send_batch(
                channel, ptype, config, may_go, token, deadline, report, recorder, marked=whole
            )
            if report.tripped:
                recorder.drain()
                if _hand_over(channel, report):
                    return report
            if not going:
                break
            probe = probe and not may_go  # a probe blocked by compliance proved nothing
        else:
            report.more = True
    finally:
        recorder.close()  # every record written (and counted) before the run ends
    if not report.more and not report.retry_in:
        report.next_due = _next_due(channel)
    return report


def _hand_over(channel: Channel, report: DispatchReport) -> bool:
    """Move a failing channel's queue to its backup; False when it has no usable one."""
    backup = failover.usable_backup(channel)
    if backup is None:
        return False
    now = timezone.now()
    report.moved += failover.reroute(channel=channel, backup=backup, now=now)
    # Come back when the cool-down ends: what could not move (re-queued after a crash)
    # waits for the primary, and the next message probes it.
    report.retry_in = max(failover.cooldown_left(channel, now), 1.0)
    return True


def _next_due(channel: Channel) -> dt.datetime | None:
    now = timezone.now()
    return (
        Message.objects.filter(channel=channel, status=Status.QUEUED)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("send_at")
        .values_list("send_at", flat=True)
        .first()
    )
