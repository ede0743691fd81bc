"""Putting messages in the outbox: idempotency, compliance, the write, the wake-up.

Each request is checked and its text measured first (comptoir.messaging.preparation),
its recipient found (comptoir.messaging.recipients); the rows go in through
comptoir.messaging.rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.compliance.decisions import Refusal
from comptoir.compliance.policy import Candidate, Context, refusals
from comptoir.core.errors import Conflict
from comptoir.dispatch.wakeup import wake_after_commit
from comptoir.messaging.awaiting import awaiting_record
from comptoir.messaging.models import PRIORITY, Medium, Message, Purpose, Status
from comptoir.messaging.preparation import Prepared, prepare
from comptoir.messaging.recipients import (
    Recipient,
    channels_for,
    field_name,
    resolve_recipients,
)
from comptoir.messaging.recipients import default_channel as default_channel  # re-exported
from comptoir.messaging.rows import messages_insert
from comptoir.messaging.voice import voice_channel
from comptoir.workspaces.models import Workspace


@dataclass(frozen=True, slots=True)
class SendRequest:
    """One message asked for.

    `to` is a phone number (any format) or a contact id, or for email the contact's email
    address. It goes on `channel` (a channel id) when given, else on the workspace's
    default channel of `scheme` ("sms" when neither is given). Only emails have a
    `subject` (the workspace's name when left empty).

    `medium="voice"` makes it a call: the body is read aloud to the number, then
    `gather_digits` keys are listened for (0: none). It goes on `channel` when given (its
    provider must place calls), else on the workspace's first channel that can.
    """

    to: str
    body: str
    purpose: str = Purpose.CONVERSATIONAL
    idempotency_key: str | None = None
    send_at: dt.datetime | None = None
    kind: str = ""  # set by the system for its own answers, e.g. "opt_out_confirmation"
    author_id: int | None = None  # the staff member who wrote it
    channel: str | None = None
    scheme: str = ""
    subject: str = ""
    medium: str = Medium.TEXT
    gather_digits: int = 0


@dataclass(frozen=True, slots=True)
class Enqueued:
    message: Message
    created: bool  # False when the idempotency key named an existing message
    replacements: tuple[tuple[str, str, int], ...] = ()


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


def _request_hash(request: SendRequest, to: str) -> str:
    # The instant, not how it was written: 10:00+01:00 and 09:00Z are the same request.
    send_at = request.send_at.astimezone(dt.UTC).isoformat() if request.send_at else ""
    parts = [to, request.body, request.purpose, send_at]
    if request.channel or request.scheme or request.subject:
        # Only when given, so requests stored before these existed keep their hash.
        parts += [str(request.channel or ""), request.scheme, request.subject]
    if request.medium != Medium.TEXT or request.gather_digits:
        parts += [request.medium, str(request.gather_digits)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _enqueue(
    workspace: Workspace,
    requests: Sequence[SendRequest],
    prepared: Sequence[Prepared],
    field_prefix: str,
    now: dt.datetime,
) -> tuple[list[Enqueued | None], list[Message]]:
    """Resolve recipients, apply idempotency and compliance, write; inside one transaction."""
    schemes = [p.channel.scheme for p in prepared]
    recipients = resolve_recipients(workspace, requests, schemes, field_prefix)
    hashes = [_request_hash(r, to.address) for r, to in zip(requests, recipients, strict=True)]

    keys = [r.idempotency_key for r in requests if r.idempotency_key]
    mine = Message.objects.for_workspace(workspace)
    existing = {m.idempotency_key: m for m in mine.filter(idempotency_key__in=keys)} if keys else {}
    results: list[Enqueued | None] = []
    fresh: list[int] = []  # the requests that make a new message
    made: dict[str, int] = {}  # idempotency key → its new message's position in `fresh`
    repeats: dict[int, int] = {}  # request → the new message it repeats (its key's, this call)
    for index, (request, request_hash) in enumerate(zip(requests, hashes, strict=True)):
        key = request.idempotency_key or None  # "" is no key, not a key shared by all
        if key and (key in existing or key in made):
            prior = existing.get(key)
            prior_hash = hashes[fresh[made[key]]] if prior is None else prior.request_hash
            if prior_hash != request_hash:
                raise IdempotencyConflict(
                    _("Idempotency key %(key)r was used for a different message.") % {"key": key},
                    field=field_name(field_prefix, index, "idempotency_key"),
                )
            if prior is None:  # made earlier in this call: answered once it is written
                repeats[index] = made[key]
                results.append(None)
            else:
                results.append(Enqueued(prior, created=False))
            continue
        if key:
            made[key] = len(fresh)
        results.append(None)
        fresh.append(index)

    blocked = _refusals(workspace, requests, recipients, prepared, fresh, now)
    new = messages_insert(
        workspace,
        [
            (
                _columns(requests[i], recipients[i], prepared[i], hashes[i], blocked.get(p), now),
                prepared[i].channel,
                recipients[i].contact,
            )
            for p, i in enumerate(fresh)
        ],
        now,
    )
    for index, position in repeats.items():
        results[index] = Enqueued(new[position], created=False)
    awaiting_record(new, now)
    for channel_id in {m.channel_id for m in new if m.status == Status.QUEUED}:
        wake_after_commit(channel_id)
    return results, new


def _columns(
    request: SendRequest,
    recipient: Recipient,
    ready: Prepared,
    request_hash: str,
    refusal: Refusal | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """A new message's columns, for `messages_insert`: queued, or as compliance decided."""
    columns = {
        "address": recipient.address,
        "body": ready.text,
        "subject": ready.subject,
        "purpose": request.purpose,
        "priority": PRIORITY[Purpose(request.purpose)],
        "status": Status.QUEUED,
        "send_at": request.send_at or now,
        "idempotency_key": request.idempotency_key or None,
        "request_hash": request_hash,
        "encoding": ready.encoding,
        "segments": ready.segments,
        "kind": request.kind,
        "author_id": request.author_id,
        "medium": ready.medium,
        "gather_digits": request.gather_digits,
    }
    if refusal is not None:
        columns["error_code"], columns["error_reason"] = refusal.code, refusal.reason
        if refusal.until is not None:
            columns["send_at"] = refusal.until  # deferred, still queued
        else:
            columns["status"], columns["failed_at"] = Status.BLOCKED, now
    return columns


def _refusals(
    workspace: Workspace,
    requests: Sequence[SendRequest],
    recipients: Sequence[Recipient],
    prepared: Sequence[Prepared],
    fresh: Sequence[int],
    now: dt.datetime,
) -> dict[Any, Refusal]:
    """Compliance at creation, for the new messages (keyed by position in `fresh`)."""
    candidates = []
    for position, index in enumerate(fresh):
        request, contact, ready = requests[index], recipients[index].contact, prepared[index]
        candidates.append(
            Candidate(
                key=position,
                # A call reaches a fixed line: the SMS-only rules do not apply to it.
                scheme=Medium.VOICE if ready.medium == Medium.VOICE else ready.channel.scheme,
                number_type=contact.number_type,
                purpose=request.purpose,
                contact_id=contact.id,
                kind=request.kind,
                # The number, also for an email: erasure suppresses numbers.
                phone=contact.phone,
                workspace_id=workspace.id,
                send_at=request.send_at or now,
                contact_tz=contact.timezone,
            )
        )
    return refusals(candidates, Context(workspace=workspace, stage="create", now=now))


def messages_send(
    *, workspace: Workspace, requests: Sequence[SendRequest], field_prefix: str = ""
) -> list[Enqueued]:
    """Validate and queue messages in one transaction, then wake the dispatcher.

    Everything is checked before anything is written: one bad item refuses the whole call
    with the item's field and reason. A repeated idempotency key with the same request
    returns the existing message; with a different request it is a conflict.
    """
    now = timezone.now()
    channels = channels_for(workspace, requests, field_prefix)
    # A call with no channel named goes on the first channel that can place calls.
    calls = [i for i, r in enumerate(requests) if r.medium == Medium.VOICE and not r.channel]
    if calls:
        caller = voice_channel(workspace, field=field_name(field_prefix, calls[0], "medium"))
        channels = [caller if i in set(calls) else c for i, c in enumerate(channels)]
    prepared = [
        prepare(workspace, request, channel, field_prefix, index)
        for index, (request, channel) in enumerate(zip(requests, channels, strict=True))
    ]

    for attempt in range(2):
        try:
            with transaction.atomic():
                results, new = _enqueue(workspace, requests, prepared, field_prefix, now)
            break
        except IntegrityError:
            # A concurrent call took one of our idempotency keys: answer as if it came
            # first, once; anything else (or a second time) is not ours to hide.
            if attempt or not any(r.idempotency_key for r in requests):
                raise

    created = iter(new)
    out = []
    for result, ready in zip(results, prepared, strict=True):
        replaced = tuple((r.original, r.replacement, r.count) for r in ready.replacements)
        out.append(result or Enqueued(next(created), created=True, replacements=replaced))
    return out


def message_send(
    *,
    workspace: Workspace,
    to: str,
    body: str,
    purpose: str = Purpose.CONVERSATIONAL,
    idempotency_key: str | None = None,
    send_at: dt.datetime | None = None,
    channel: str | None = None,
    scheme: str = "",
    subject: str = "",
    medium: str = Medium.TEXT,
    gather_digits: int = 0,
) -> Enqueued:
    """Queue one message (see `messages_send`)."""
    request = SendRequest(
        to,
        body,
        purpose,
        idempotency_key,
        send_at,
        channel=channel,
        scheme=scheme,
        subject=subject,
        medium=medium,
        gather_digits=gather_digits,
    )
    return messages_send(workspace=workspace, requests=[request])[0]
