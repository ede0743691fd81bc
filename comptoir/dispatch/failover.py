"""Failover: a channel whose provider keeps failing hands its queued messages to its backup.

A channel counts the sends that failed in a row for want of its provider (`RETRY`: the
connection failed or the provider hiccupped; `CONFIG_ERROR`: it refused our credentials).
Any other answer proves the provider is there and resets the count. At
COMPTOIR_FAILOVER_AFTER failures (3) the channel *trips*: it is marked failing and
`failing_since` is set. While it cools down (COMPTOIR_FAILOVER_COOLDOWN seconds, 60), its
dispatcher moves its due messages to the backup instead of sending them. After that the
next run sends one message through it as a probe: an answer puts it back to work, another
failure starts another cool-down. Without a usable backup a tripped channel is only
marked failing and keeps retrying its messages as before.

Why a message still goes out once (docs/providers-operations.md has the long form):
- Only `queued` messages with no live claim move, in one transaction that changes their
  channel and clears their claim token. They were never handed to the primary, or the
  primary answered that it did not take them (`RETRY`, `THROTTLED`, `CONFIG_ERROR`).
- `sending` and `unknown` messages never move: the reaper settles them on the primary.
- A message the reaper re-queued after a crash may already be at the primary, which
  only recognises its own references: it never moves (its history says so).
- A primary run whose lease ran out cannot mark a moved message `sending`: that UPDATE
  requires its claim token, which the move cleared. Claims filter on the channel, so the
  primary never claims a moved message again; the backup's receipts match it.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Least
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.channels.models import Channel, ChannelStatus
from comptoir.core.bulk import insert_rows
from comptoir.core.fetch import objects_where, param
from comptoir.dispatch.reaper import REQUEUED_AFTER_CRASH
from comptoir.dispatch.wakeup import wake
from comptoir.messaging.models import TRANSITION_COLUMNS, Medium, Message, MessageTransition, Status
from comptoir.messaging.voice import can_call
from comptoir.providers.base import Outcome, SendResult
from comptoir.providers.registry import UnknownProvider, provider_type

log = logging.getLogger(__name__)

# Outcomes that say nothing reached the provider, or that it would not let us in.
FAILURES = frozenset({Outcome.RETRY, Outcome.CONFIG_ERROR, Outcome.UNCONFIRMED})
MOVED = "failover"
# Rows moved per transaction: keeps each one short on a big queue.
MOVE_BATCH = 2000


class Mode(StrEnum):
    HEALTHY = "healthy"
    COOLING = "cooling"  # tripped: its messages go to the backup
    PROBING = "probing"  # tripped, cool-down over: one send decides


def failover_after() -> int:
    return settings.COMPTOIR_FAILOVER_AFTER


def cooldown() -> float:
    return settings.COMPTOIR_FAILOVER_COOLDOWN


def mode(channel: Channel, now: dt.datetime) -> Mode:
    if channel.failing_since is None:
        return Mode.HEALTHY
    if now < channel.failing_since + dt.timedelta(seconds=cooldown()):
        return Mode.COOLING
    return Mode.PROBING


def cooldown_left(channel: Channel, now: dt.datetime) -> float:
    if channel.failing_since is None:
        return 0.0
    end = channel.failing_since + dt.timedelta(seconds=cooldown())
    return max((end - now).total_seconds(), 0.0)


def health_record(*, channel: Channel, results: Sequence[SendResult], now: dt.datetime) -> bool:
    """Count the provider's failures and answers in `results` (in sending order), set the
    channel's status to match; True when the channel is tripped afterwards.

    Runs inside the caller's transaction: the channel row is locked, so concurrent runs
    of one channel count in turn.
    """
    answered = [i for i, r in enumerate(results) if r.outcome not in FAILURES]
    trailing = results[answered[-1] + 1 :] if answered else results
    [row] = objects_where(Channel, "id = %s", [param(Channel, "id", channel.id)], lock=True)
    count = len(trailing) + (0 if answered else row.consecutive_failures)
    config_error = next((r for r in trailing if r.outcome is Outcome.CONFIG_ERROR), None)
    tripped = count >= failover_after()
    status, reason, failing_since = row.status, None, row.failing_since
    if tripped:
        last = trailing[-1]
        status, failing_since = ChannelStatus.FAILING, now
        reason = _("%(count)d sends failed in a row: %(reason)s") % {
            "count": count,
            "reason": last.reason or last.error_code or last.outcome.value,
        }
        if row.failing_since is None:
            log.warning("channel %s tripped after %d failed sends", channel.id, count)
    elif config_error is not None:
        status, reason = ChannelStatus.FAILING, config_error.reason
    elif answered:
        if row.failing_since is not None:
            log.warning("channel %s answers again: failover over", channel.id)
        failing_since = None
        if row.status == ChannelStatus.FAILING:
            status, reason = ChannelStatus.ACTIVE, ""
    changes: dict[str, object] = {
        "consecutive_failures": count,
        "failing_since": failing_since,
        "status": status,
    }
    if reason is not None:
        changes["status_reason"] = reason
    if any(getattr(row, name) != value for name, value in changes.items()):
        # Most batches change nothing (no failure before, none now): no write.
        Channel.objects.filter(id=channel.id).update(**changes)
    channel.consecutive_failures, channel.failing_since = count, failing_since
    return tripped


def usable_backup(channel: Channel) -> Channel | None:
    """The channel's backup when messages may go through it now, else None (and why, logged)."""
    if channel.backup_id is None:
        return None
    backup = Channel.objects.filter(id=channel.backup_id).first()
    problem = ""
    if backup is None:
        problem = "it no longer exists"
    elif backup.workspace_id != channel.workspace_id or backup.scheme != channel.scheme:
        problem = "it is not of the same workspace and scheme"
    elif backup.status == ChannelStatus.DISABLED:
        problem = "it is disabled"
    elif backup.failing_since is not None:
        problem = "it is failing too"
    else:
        try:
            provider_type(backup.provider)
        except UnknownProvider:
            problem = f"its provider {backup.provider!r} is not enabled"
    if problem:
        log.warning("channel %s cannot fail over to %s: %s", channel.id, channel.backup_id, problem)
        return None
    return backup


def reroute(*, channel: Channel, backup: Channel, now: dt.datetime | None = None) -> int:
    """Move the channel's movable queued messages to `backup` and wake it; how many moved.

    Movable: queued, with no live claim, due now or waiting out a retry (the backoff was
    the primary's trouble: they become due at once), and never re-queued after a crash.
    """
    now = now or timezone.now()
    crash_requeued = MessageTransition.objects.filter(
        message=OuterRef("pk"), code=REQUEUED_AFTER_CRASH
    )
    movable = (
        Message.objects.filter(channel=channel, status=Status.QUEUED)
        .filter(Q(send_at__lte=now) | Q(attempts__gt=0))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .exclude(Exists(crash_requeued))
    )
    if not can_call(backup):
        movable = movable.exclude(medium=Medium.VOICE)  # calls wait for a channel that calls
    reason = _("Sent through %(backup)s: %(channel)s is failing.") % {
        "backup": backup.name,
        "channel": channel.name,
    }
    moved = 0
    while True:
        with transaction.atomic():
            ids: list[uuid.UUID] = list(
                movable.order_by("priority", "send_at")
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("id", flat=True)[:MOVE_BATCH]
            )
            # The rows are locked (SQLite: the database is): nobody claims them meanwhile.
            Message.objects.filter(id__in=ids).update(
                channel=backup,
                claim_token=None,
                claimed_until=None,
                send_at=Least(F("send_at"), Value(now, output_field=DateTimeField())),
            )
            insert_rows(
                MessageTransition,
                TRANSITION_COLUMNS,
                [(i, Status.QUEUED, now, MOVED, reason) for i in ids],
            )
        moved += len(ids)
        if len(ids) < MOVE_BATCH:
            break
    if moved:
        log.warning("moved %d messages from channel %s to %s", moved, channel.id, backup.id)
        wake(backup.id)
    return moved
