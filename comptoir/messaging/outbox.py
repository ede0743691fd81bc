"""Putting messages in the outbox: validation, encoding, idempotency, compliance, wake-up."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.channels.models import Channel
from comptoir.compliance.countries import marketing_text
from comptoir.compliance.policy import Candidate, Context, policy_for_workspace, refusals
from comptoir.core.bulk import insert_objects
from comptoir.core.errors import Conflict, ValidationError
from comptoir.core.ids import uuid7
from comptoir.dispatch.wakeup import wake_after_commit
from comptoir.messaging.awaiting import awaiting_record
from comptoir.messaging.encoding import Replacement, analyze
from comptoir.messaging.models import (
    PRIORITY,
    Medium,
    Message,
    MessageTransition,
    Purpose,
    Status,
)
from comptoir.messaging.recipients import (
    EMAIL,
    channels_for,
    field_name,
    resolve_recipients,
)
from comptoir.messaging.recipients import default_channel as default_channel  # re-exported
from comptoir.messaging.voice import VOICE_MAX_CHARS, check_voice_channel, voice_channel
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


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A request checked and measured: its channel, and the text as it will go."""

    channel: Channel
    text: str
    encoding: str
    segments: int
    subject: str = ""
    replacements: tuple[Replacement, ...] = ()
    medium: str = Medium.TEXT


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


# An email body beyond this is a mistake (a pasted file), not a message to a customer.
EMAIL_MAX_CHARS = 100_000
SUBJECT_MAX_CHARS = Message._meta.get_field("subject").max_length or 200


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
    prepared: Sequence[_Prepared],
    field_prefix: str,
    now: dt.datetime,
) -> tuple[list[Enqueued | None], list[Message]]:
    """Resolve recipients, apply idempotency and compliance, write; inside one transaction."""
    schemes = [p.channel.scheme for p in prepared]
    recipients = resolve_recipients(workspace, requests, schemes, field_prefix)
    hashes = [_request_hash(r, to.address) for r, to in zip(requests, recipients, strict=True)]

    keys = [r.idempotency_key for r in requests if r.idempotency_key]
    existing = {
        m.idempotency_key: m
        for m in Message.objects.for_workspace(workspace).filter(idempotency_key__in=keys)
    }
    results: list[Enqueued | None] = []
    new: list[Message] = []
    seen_keys: dict[str, int] = {}
    for index, (request, recipient, ready, request_hash) in enumerate(
        zip(requests, recipients, prepared, hashes, strict=True)
    ):
        key = request.idempotency_key or None  # "" is no key, not a key shared by all
        if key and (key in existing or key in seen_keys):
            prior = existing.get(key) or new[seen_keys[key]]
            if prior.request_hash != request_hash:
                raise IdempotencyConflict(
                    _("Idempotency key %(key)r was used for a different message.") % {"key": key},
                    field=field_name(field_prefix, index, "idempotency_key"),
                )
            results.append(Enqueued(prior, created=False))
            continue
        if key:
            seen_keys[key] = len(new)
        results.append(None)
        new.append(
            Message(
                id=uuid7(),
                workspace=workspace,
                channel=ready.channel,
                contact=recipient.contact,
                address=recipient.address,
                body=ready.text,
                subject=ready.subject,
                purpose=request.purpose,
                priority=PRIORITY[Purpose(request.purpose)],
                status=Status.QUEUED,
                send_at=request.send_at or now,
                idempotency_key=key,
                request_hash=request_hash,
                encoding=ready.encoding,
                segments=ready.segments,
                kind=request.kind,
                author_id=request.author_id,
                medium=ready.medium,
                gather_digits=request.gather_digits,
            )
        )
    context = Context(workspace=workspace, stage="create", now=now)
    blocked = refusals(
        [
            Candidate(
                key=i,
                # A call reaches a fixed line: the SMS-only rules do not apply to it.
                scheme=Medium.VOICE if m.medium == Medium.VOICE else m.channel.scheme,
                number_type=m.contact.number_type,
                purpose=m.purpose,
                contact_id=m.contact.id,
                kind=m.kind,
                # The number, also for an email: erasure suppresses numbers.
                phone=m.contact.phone,
                workspace_id=workspace.id,
                send_at=m.send_at,
                contact_tz=m.contact.timezone,
            )
            for i, m in enumerate(new)
            if m.contact is not None
        ],
        context,
    )
    transitions = []
    for i, message in enumerate(new):
        refusal = blocked.get(i)
        if refusal is not None:
            message.error_code, message.error_reason = refusal.code, refusal.reason
            if refusal.until is not None:
                message.send_at = refusal.until  # deferred, still queued
            else:
                message.status = Status.BLOCKED
                message.failed_at = now
        transitions.append(
            MessageTransition(
                message=message,
                status=message.status,
                at=now,
                code=message.error_code,
                reason=message.error_reason,
            )
        )
    insert_objects(new)
    insert_objects(transitions)
    awaiting_record(new, now)
    for channel_id in {m.channel_id for m in new if m.status == Status.QUEUED}:
        wake_after_commit(channel_id)
    return results, new


def _prepare(
    workspace: Workspace, request: SendRequest, channel: Channel, prefix: str, index: int
) -> _Prepared:
    """Check one request's fields and measure its text for its channel (field named)."""
    if request.purpose not in Purpose.values:
        raise ValidationError(
            _("Unknown purpose %(purpose)r: use one of %(choices)s.")
            % {"purpose": request.purpose, "choices": ", ".join(sorted(Purpose.values))},
            field=field_name(prefix, index, "purpose"),
        )
    if not request.body or not request.body.strip():
        raise ValidationError(
            _("The message body is empty."), field=field_name(prefix, index, "body")
        )
    if request.send_at is not None and timezone.is_naive(request.send_at):
        raise ValidationError(
            _("send_at needs a time zone (e.g. 2026-11-24T10:00:00+01:00)."),
            field=field_name(prefix, index, "send_at"),
        )
    if request.medium not in Medium.values:
        raise ValidationError(
            _("Unknown medium %(medium)r: use one of %(choices)s.")
            % {"medium": request.medium, "choices": ", ".join(Medium.values)},
            field=field_name(prefix, index, "medium"),
        )
    if request.medium == Medium.VOICE:
        return _prepare_voice(request, channel, prefix, index)
    if request.gather_digits:
        raise ValidationError(
            _('Only voice calls listen for keys (medium "voice").'),
            field=field_name(prefix, index, "gather_digits"),
        )
    if channel.scheme == EMAIL:
        return _prepare_email(workspace, request, channel, prefix, index)
    if request.subject:
        raise ValidationError(
            _("Only emails have a subject; this message goes by %(scheme)s.")
            % {"scheme": channel.scheme},
            field=field_name(prefix, index, "subject"),
        )
    body = request.body
    if request.purpose == Purpose.MARKETING:
        body = marketing_text(body, policy_for_workspace(workspace))
    info = analyze(body)
    if info.segments > workspace.segment_cap:
        raise ValidationError(
            _("The body is %(n)d SMS segments long; this workspace allows %(cap)d.")
            % {"n": info.segments, "cap": workspace.segment_cap},
            field=field_name(prefix, index, "body"),
        )
    return _Prepared(
        channel, info.text, info.encoding.value, info.segments, replacements=info.replacements
    )


def _prepare_voice(request: SendRequest, channel: Channel, prefix: str, index: int) -> _Prepared:
    # Read aloud as written: no SMS encoding, no opt-out mention (a call has no STOP
    # reply); one call counts as one unit for rate limits and costs.
    check_voice_channel(channel, field=field_name(prefix, index, "channel"))
    if request.subject:
        raise ValidationError(
            _("Only emails have a subject; this message is a voice call."),
            field=field_name(prefix, index, "subject"),
        )
    if not 0 <= request.gather_digits <= 9:
        raise ValidationError(
            _("gather_digits is %(n)d: a call listens for 0 to 9 keys.")
            % {"n": request.gather_digits},
            field=field_name(prefix, index, "gather_digits"),
        )
    if len(request.body) > VOICE_MAX_CHARS:
        raise ValidationError(
            _("The body is %(n)d characters long; a call reads at most %(max)d.")
            % {"n": len(request.body), "max": VOICE_MAX_CHARS},
            field=field_name(prefix, index, "body"),
        )
    return _Prepared(channel, request.body.strip(), Medium.VOICE, 1, medium=Medium.VOICE)


def _prepare_email(
    workspace: Workspace, request: SendRequest, channel: Channel, prefix: str, index: int
) -> _Prepared:
    # No SMS opt-out mention: an email's way out is its unsubscribe link and header.
    if len(request.body) > EMAIL_MAX_CHARS:
        raise ValidationError(
            _("The body is %(n)d characters long; an email may have at most %(max)d.")
            % {"n": len(request.body), "max": EMAIL_MAX_CHARS},
            field=field_name(prefix, index, "body"),
        )
    subject = " ".join(request.subject.split()) if request.subject else ""
    if "\n" in request.subject or "\r" in request.subject:
        raise ValidationError(
            _("The subject must be one line."), field=field_name(prefix, index, "subject")
        )
    if len(subject) > SUBJECT_MAX_CHARS:
        raise ValidationError(
            _("The subject is %(n)d characters long; at most %(max)d.")
            % {"n": len(subject), "max": SUBJECT_MAX_CHARS},
            field=field_name(prefix, index, "subject"),
        )
    return _Prepared(channel, request.body, EMAIL, 1, subject or workspace.name)


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
        _prepare(workspace, request, channel, field_prefix, index)
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
