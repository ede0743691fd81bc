"""Delivery receipts: moving outgoing messages by what the provider says became of them.

A receipt names the provider's id for a message. It moves the message only forward
(RECEIPT_MOVES); one that matches no message yet — the provider answered before the
dispatcher recorded its id — waits as a pending receipt, applied once the id is
recorded (`pending_receipts_apply`, called by the dispatcher and the reaper's tick).

A receipt batch is one UPDATE per status (per reason, for failures) which says which
messages it moved, written by hand: the ORM's compiler, and its conversion of every id
in the IN lists, cost more than the statements (a batch of 300 receipts: 8 ms of CPU
through the ORM).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Protocol

from django.db import connection, transaction
from django.utils import timezone

from comptoir.channels.models import Channel
from comptoir.core.bulk import in_list, key_of
from comptoir.core.fetch import param, rows_each, rows_where, select_each
from comptoir.messaging.failures import messages_failed
from comptoir.messaging.history import transitions_add
from comptoir.messaging.models import (
    Direction,
    Message,
    PendingReceipt,
    Status,
)
from comptoir.providers.base import DeliveryStatus, StatusUpdate

# Which states a receipt may move a message from. A receipt arriving late for a message
# the reaper marked `unknown` still settles it.
RECEIPT_MOVES = {
    DeliveryStatus.SENT: (Status.SENDING, Status.UNKNOWN),
    DeliveryStatus.DELIVERED: (Status.SENDING, Status.SENT, Status.UNKNOWN),
    DeliveryStatus.FAILED: (Status.SENDING, Status.SENT, Status.UNKNOWN),
}
RECEIPT_STAMP = {
    DeliveryStatus.SENT: "sent_at",
    DeliveryStatus.DELIVERED: "delivered_at",
    DeliveryStatus.FAILED: "failed_at",
}


class Counts(Protocol):
    """Where a batch of receipts counts what it did (a StoreReport, or ReceiptCounts)."""

    statuses: int
    unmatched: int


@dataclass
class ReceiptCounts:
    statuses: int = 0
    unmatched: int = 0


def _moved(
    channel: Channel, provider_ids: Sequence[str], states: Sequence[str], changes: dict[str, Any]
) -> list[tuple[str, str]]:
    """Set `changes` (column: value) on the channel's outgoing messages with these provider
    ids, in these states: one UPDATE, which returns (id key, provider id) of each row it
    changed. Two deliveries of one receipt: the second finds the state moved on (checked
    again on the row updated, as a concurrent receipt may have moved it meanwhile)."""
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(column)} = %s" for column in changes)
    values = [param(Message, column, value) for column, value in changes.items()]
    by_state, state_params = in_list("status", [str(state) for state in states])
    channel_id = param(Message, "channel_id", channel.id)
    where = f"channel_id = %s AND direction = %s AND {by_state}"
    ids, id_params = select_each(
        Message, "id", where, [channel_id, Direction.OUT, *state_params], "provider_id",
        list(provider_ids),
    )  # fmt: skip
    table = quote(Message._meta.db_table)
    # The table name comes from the model; every value is a parameter.
    sql = (
        f"UPDATE {table} SET {sets} WHERE {by_state} AND id IN ({ids}) "  # noqa: S608
        f"RETURNING {key_of('id')}, provider_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *state_params, *id_params])
        return [(key, pid) for key, pid in cursor.fetchall()]


def apply_statuses(
    channel: Channel, events: Sequence[StatusUpdate], counts: Counts, *, keep: bool = True
) -> None:
    """Move messages by their receipts; with `keep`, receipts that moved none wait.

    `counts` gets `statuses` (messages moved) and `unmatched` (receipts kept) added to.
    """
    now = timezone.now()
    by_status: dict[DeliveryStatus, list[StatusUpdate]] = defaultdict(list)
    for event in events:
        by_status[event.status].append(event)
    matched: set[str] = set()
    for status, group in by_status.items():
        by_pid = {e.provider_id: e for e in group}
        states, stamp = RECEIPT_MOVES[status], RECEIPT_STAMP[status]
        if status is DeliveryStatus.FAILED:
            # Failures carry their own code and reason: one update per distinct reason.
            reasons: dict[tuple[str, str], list[str]] = defaultdict(list)
            for pid, event in by_pid.items():
                reasons[(event.error_code or "undelivered", event.reason)].append(pid)
            rows = []
            for (code, reason), pids in reasons.items():
                failed = {"status": Status.FAILED.value, stamp: now}
                changes = {**failed, "error_code": code, "error_reason": reason}
                rows += _moved(channel, pids, states, changes)
            messages_failed([uuid.UUID(key) for key, _ in rows])
        else:
            rows = _moved(channel, list(by_pid), states, {"status": status.value, stamp: now})
        matched.update(pid for _, pid in rows)
        # One history row each, written per distinct (code, reason): mostly one.
        said: dict[tuple[str, str], list[str]] = defaultdict(list)
        for key, pid in rows:
            said[(by_pid[pid].error_code, by_pid[pid].reason)].append(key)
        for (code, reason), keys in said.items():
            transitions_add(keys, status.value, now, code, reason)
        counts.statuses += len(rows)
    unmatched = [e for e in events if e.provider_id not in matched]
    if unmatched and keep:
        _keep_early_receipts(channel, unmatched, now, counts)


def _keep_early_receipts(
    channel: Channel, events: Sequence[StatusUpdate], now: dt.datetime, counts: Counts
) -> None:
    """Receipts that moved no message wait: their message may not have its id yet.

    The dispatcher may record these ids while we store them: whoever commits last sees
    the other's rows, so we look once more after our commit. Receipts for messages that
    do have the id (a repeat, or a message already past that state) are cleared then.
    """
    counts.unmatched += len(events)
    PendingReceipt.objects.bulk_create(
        PendingReceipt(
            channel=channel,
            provider_id=e.provider_id,
            status=e.status,
            error_code=e.error_code,
            reason=e.reason,
            received_at=now,
        )
        for e in events
    )
    pids = [e.provider_id for e in events]
    transaction.on_commit(lambda: pending_receipts_apply(channel=channel, provider_ids=pids))


def _any_pending(channel: Channel) -> bool:
    """Whether the channel has any receipt waiting (the usual answer, no, in one index
    look-up, before the look-up by ids)."""
    channel_id = param(PendingReceipt, "channel_id", channel.id)
    return bool(rows_where(PendingReceipt, "1", "channel_id = %s", [channel_id], limit=1))


def pending_receipts_apply(*, channel: Channel, provider_ids: Sequence[str] | None = None) -> int:
    """Apply receipts that came before their message's provider id was recorded."""
    if not _any_pending(channel):
        return 0
    pending = PendingReceipt.objects.filter(channel=channel)
    if provider_ids is not None:
        pending = pending.filter(provider_id__in=provider_ids)
    rows = list(pending.order_by("received_at", "id"))
    if not rows:
        return 0
    channel_id = param(Message, "channel_id", channel.id)
    pids = [r.provider_id for r in rows]
    recorded = {
        pid
        for (pid,) in rows_each(
            Message, "provider_id", "channel_id = %s", [channel_id], "provider_id", pids
        )
    }
    ready = [r for r in rows if r.provider_id in recorded]
    if not ready:
        return 0
    counts = ReceiptCounts()
    with transaction.atomic():
        # In arrival order ("sent" before "delivered"), a run of one status at a time.
        for _, run in groupby(ready, key=lambda r: r.status):
            events = [
                StatusUpdate(r.provider_id, DeliveryStatus(r.status), r.error_code, r.reason)
                for r in run
            ]
            apply_statuses(channel, events, counts, keep=False)
        PendingReceipt.objects.filter(id__in=[r.id for r in ready]).delete()
    return len(ready)
