"""Claiming due messages and moving them through `sending`: the dispatcher's row work.

A claim is a token and a lease on `queued` rows, not a state: every later step is guarded
by the token, so a run whose lease ran out (and whose rows another run or the failover
took) cannot touch them any more. A batch that goes to the provider at once (no rate
limit to wait for) is claimed and marked `sending` in the same statement.

The batch path's statements are written by hand: the ORM's compiler, and its conversion
of every id in the IN lists, cost more than running them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from comptoir.channels.models import Channel
from comptoir.compliance.policy import Candidate, Context, Refusal, refusals
from comptoir.contacts.models import Contact
from comptoir.core.bulk import (
    convert,
    insert_rows,
    key_of,
    keys_in,
    uuid_array,
    uuid_keys,
)
from comptoir.core.fetch import param, rows_where, update_keys
from comptoir.messaging.history import transitions_add
from comptoir.messaging.models import TRANSITION_COLUMNS, Message, MessageTransition, Status

CLAIM_FIELDS = (
    "id",
    "address",
    "body",
    "subject",
    "encoding",
    "segments",
    "purpose",
    "attempts",
    "contact__number_type",
    "contact__timezone",
    "contact_id",
    "kind",
    "medium",
    "gather_digits",
    "contact__language",
)
# Rows per `mark_sent` statement: SQLite takes two parameters a row, 32,766 at most.
MARK_SENT_CHUNK = 5000


@lru_cache(maxsize=4)
def _claim_sql(vendor: str) -> tuple[str, list[tuple[int, list[Any], Any]]]:
    """The claim's SELECT (CLAIM_FIELDS, the contact's through a join), and the columns'
    converters (a UUID is 32 hex digits in SQLite), worked out once."""
    quote = connection.ops.quote_name
    columns, converters = [], []
    for position, name in enumerate(CLAIM_FIELDS):
        model, alias, attname = (
            (Contact, "c", name.removeprefix("contact__"))
            if name.startswith("contact__")
            else (Message, "m", name)
        )
        field = model._meta.get_field(attname)
        assert isinstance(field, Field)
        columns.append(f"{alias}.{quote(str(field.column))}")
        column = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((position, found, column))
    # The states are the model's constants, written in the statement so that SQLite sees
    # the partial index on queued rows applies; every value is a parameter.
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(Message._meta.db_table)} m "  # noqa: S608
        f"LEFT OUTER JOIN {quote(Contact._meta.db_table)} c ON c.id = m.contact_id "
        f"WHERE m.channel_id = %s AND m.status = '{Status.QUEUED.value}' AND m.send_at <= %s "
        "AND (m.claimed_until IS NULL OR m.claimed_until < %s) "
        "ORDER BY m.priority, m.send_at LIMIT %s"
    )
    if vendor == "postgresql":
        sql += " FOR UPDATE OF m SKIP LOCKED"
    return sql, converters


def _due(channel: Channel, size: int, now: dt.datetime) -> list[dict[str, Any]]:
    """Due `queued` rows of the channel, transactional first, locked (the caller's
    transaction). Hand-written: the ORM compiled this query and converted every id at
    each batch, a fifth of the dispatcher's own CPU; rows as `values(*CLAIM_FIELDS)`."""
    sql, converters = _claim_sql(connection.vendor)
    at = param(Message, "send_at", now)
    with connection.cursor() as cursor:
        cursor.execute(sql, [param(Message, "channel_id", channel.id), at, at, size])
        found = cursor.fetchall()
    rows = []
    for row in found:
        values = list(row)
        for position, convert_all, column in converters:
            for convert_one in convert_all:
                values[position] = convert_one(values[position], column, connection)
        rows.append(dict(zip(CLAIM_FIELDS, values, strict=True)))
    return rows


def _lease(now: dt.datetime) -> Any:
    return param(
        Message, "claimed_until", now + dt.timedelta(seconds=settings.COMPTOIR_CLAIM_SECONDS)
    )


def claim(channel: Channel, size: int, token: uuid.UUID) -> list[dict[str, Any]]:
    """Due `queued` rows of the channel, transactional first, leased to `token`."""
    now = timezone.now()
    with transaction.atomic():
        rows = _due(channel, size, now)
        if rows:
            update_keys(
                Message,
                uuid_keys(r["id"] for r in rows),
                "claim_token = %s, claimed_until = %s",
                [param(Message, "claim_token", token), _lease(now)],
            )
    return rows


def claim_sending(
    channel: Channel, size: int, token: uuid.UUID
) -> tuple[int, list[dict[str, Any]]]:
    """Claim, check compliance and mark `sending` in one transaction: for a batch that
    goes to the provider whole, with no rate limit to wait for between (one UPDATE of
    the batch instead of two). Returns how many were claimed, and the rows to send."""
    now = timezone.now()
    with transaction.atomic():
        rows = _due(channel, size, now)
        if not rows:
            return 0, []
        going = block(channel, rows, None)
        if going:
            keys = uuid_keys(r["id"] for r in going)
            update_keys(
                Message,
                keys,
                "claim_token = %s, claimed_until = %s, "
                f"status = '{Status.SENDING.value}', sending_at = %s, attempts = attempts + 1",
                [
                    param(Message, "claim_token", token),
                    _lease(now),
                    param(Message, "sending_at", now),
                ],
            )
            transitions_add(keys, Status.SENDING, now)
    return len(rows), going


def held(ids: Sequence[uuid.UUID], token: uuid.UUID) -> set[str]:
    """Which of these messages a run holding `token` still has (`sending`, or `unknown` if
    the reaper settled them meanwhile), locked; as `uuid_keys` (32 hex digits)."""
    by_key, key_params = keys_in("id", uuid_keys(ids))
    states = f"'{Status.SENDING.value}', '{Status.UNKNOWN.value}'"
    where = f"claim_token = %s AND status IN ({states}) AND {by_key}"
    token_param = param(Message, "claim_token", token)
    rows = rows_where(Message, key_of("id"), where, [token_param, *key_params], lock=True)
    return {key for (key,) in rows}


def mark_sent(
    sent: Sequence[tuple[str, uuid.UUID]], token: uuid.UUID, now: dt.datetime
) -> set[str]:
    """→ sent, each with its provider id, the rows a run holding `token` still has
    (`sending`, or `unknown` if the reaper settled them meanwhile): one statement, which
    says which rows it changed, as `uuid_keys` (32 hex digits)."""
    if len(sent) > MARK_SENT_CHUNK:
        head, rest = sent[:MARK_SENT_CHUNK], sent[MARK_SENT_CHUNK:]
        return mark_sent(head, token, now) | mark_sent(rest, token, now)
    table = connection.ops.quote_name(Message._meta.db_table)
    changes = "status = 'sent', provider_id = v.pid, sent_at = %s, claim_token = NULL, "
    changes += "claimed_until = NULL, error_code = '', error_reason = ''"
    states = f"'{Status.SENDING.value}', '{Status.UNKNOWN.value}'"
    pids, keys = [pid for pid, _ in sent], uuid_keys(i for _, i in sent)
    at = convert(Message._meta.get_field("sent_at"), now)
    if connection.vendor == "postgresql":
        pairs = "unnest(%s::varchar[], %s::uuid[]) AS v(pid, key)"
        returning = key_of("m.id")
        values: list[Any] = [pids, uuid_array(keys)]
    else:
        rows = ", ".join(["(%s, %s)"] * len(sent))
        pairs = f"(SELECT column1 AS pid, column2 AS key FROM (VALUES {rows})) AS v"  # noqa: S608
        returning = "id"  # the updated table's
        values = [value for pair in zip(pids, keys, strict=True) for value in pair]
    # The table name comes from the model, the states are the model's constants; every
    # value is a parameter.
    sql = (
        f"UPDATE {table} AS m SET {changes} FROM {pairs} "  # noqa: S608
        f"WHERE m.id = v.key AND m.claim_token = %s AND m.status IN ({states}) "
        f"RETURNING {returning}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [at, *values, param(Message, "claim_token", token)])
        return {key for (key,) in cursor.fetchall()}


def block(
    channel: Channel, rows: list[dict[str, Any]], token: uuid.UUID | None
) -> list[dict[str, Any]]:
    """Compliance just before sending; returns the rows that may still go now.

    Refused messages become `blocked`; deferred ones (outside sending hours) go back to
    the queue for their new time, without using up an attempt. `token` is the claim's;
    None for rows the caller's transaction holds locked, not yet claimed.
    """
    candidates = [
        Candidate(
            r["id"],
            # A call reaches a fixed line: the SMS-only rules do not apply to it.
            "voice" if r["medium"] == "voice" else channel.scheme,
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
            mine = Message.objects.filter(id__in=ids)
            if token is not None:
                mine = mine.filter(claim_token=token)
            mine.update(
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


def mark_sending(rows: list[dict[str, Any]], token: uuid.UUID) -> list[dict[str, Any]]:
    """→ sending, just before the adapter is called; returns the rows still ours.

    One transaction: the rows and their transitions commit together.
    """
    now = timezone.now()
    ids = [r["id"] for r in rows]
    with transaction.atomic():
        updated = update_keys(
            Message,
            uuid_keys(ids),
            f"status = '{Status.SENDING.value}', sending_at = %s, attempts = attempts + 1",
            [param(Message, "sending_at", now), param(Message, "claim_token", token)],
            f"claim_token = %s AND status = '{Status.QUEUED.value}'",
        )
        if updated != len(ids):
            # Our lease ran out and another dispatcher (or the failover) took some: send
            # only what is still ours.
            ours = set(
                Message.objects.filter(
                    id__in=ids, claim_token=token, status=Status.SENDING, sending_at=now
                ).values_list("id", flat=True)
            )
            rows = [r for r in rows if r["id"] in ours]
        transitions_add(uuid_keys(r["id"] for r in rows), Status.SENDING, now)
    return rows


def release(rows: Sequence[dict[str, Any]], token: uuid.UUID) -> None:
    """Let go of claimed rows not yet handed to the provider: the next run takes them."""
    if rows:
        update_keys(
            Message,
            uuid_keys(r["id"] for r in rows),
            "claim_token = NULL, claimed_until = NULL",
            [param(Message, "claim_token", token)],
            f"claim_token = %s AND status = '{Status.QUEUED.value}'",
        )
