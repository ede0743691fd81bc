"""Claiming due messages and moving them through `sending`: the dispatcher's row work.

A claim is a token and a lease on `queued` rows, not a state: every later step is guarded
by the token, so a run whose lease ran out (and whose rows another run or the failover
took) cannot touch them any more.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from comptoir.channels.models import Channel
from comptoir.compliance.policy import Candidate, Context, Refusal, refusals
from comptoir.core.bulk import convert, converter, insert_rows
from comptoir.messaging.models import Message, MessageTransition, Status

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
TRANSITION_COLUMNS = ("message_id", "status", "at", "code", "reason")


def claim(channel: Channel, size: int, token: uuid.UUID) -> list[dict[str, Any]]:
    """Due `queued` rows of the channel, transactional first, leased to `token`."""
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


def transitions(
    ids: Sequence[uuid.UUID], status: str, at: dt.datetime, code: str = "", reason: str = ""
) -> list[tuple[Any, ...]]:
    return [(i, status, at, code, reason) for i in ids]


def mark_sent(sent: Sequence[tuple[str, uuid.UUID]], now: dt.datetime) -> None:
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
        as_db = converter(Message._meta.get_field("id"))
        cursor.executemany(
            f"UPDATE {table} {values.replace('v.pid', '%s')}WHERE id = %s",
            [(pid, at, as_db(i)) for pid, i in sent],
        )


def block(channel: Channel, rows: list[dict[str, Any]], token: uuid.UUID) -> list[dict[str, Any]]:
    """Compliance just before sending; returns the rows that may still go now.

    Refused messages become `blocked`; deferred ones (outside sending hours) go back to
    the queue for their new time, without using up an attempt.
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


def mark_sending(rows: list[dict[str, Any]], token: uuid.UUID) -> list[dict[str, Any]]:
    """→ sending, just before the adapter is called; returns the rows still ours.

    One transaction: the rows and their transitions commit together.
    """
    now = timezone.now()
    ids = [r["id"] for r in rows]
    with transaction.atomic():
        updated = Message.objects.filter(
            id__in=ids, claim_token=token, status=Status.QUEUED
        ).update(status=Status.SENDING, sending_at=now, attempts=F("attempts") + 1)
        if updated != len(ids):
            # Our lease ran out and another dispatcher (or the failover) took some: send
            # only what is still ours.
            ours = set(
                Message.objects.filter(
                    id__in=ids, claim_token=token, status=Status.SENDING, sending_at=now
                ).values_list("id", flat=True)
            )
            rows = [r for r in rows if r["id"] in ours]
        insert_rows(
            MessageTransition,
            TRANSITION_COLUMNS,
            transitions([r["id"] for r in rows], Status.SENDING, now),
        )
    return rows


def release(rows: Sequence[dict[str, Any]], token: uuid.UUID) -> None:
    """Let go of claimed rows not yet handed to the provider: the next run takes them."""
    if rows:
        Message.objects.filter(
            id__in=[r["id"] for r in rows], claim_token=token, status=Status.QUEUED
        ).update(claim_token=None, claimed_until=None)
