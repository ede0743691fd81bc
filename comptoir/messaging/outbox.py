"""Putting messages in the outbox: validation, encoding, idempotency, compliance, wake-up."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.channels.models import Channel, ChannelStatus
from comptoir.compliance.countries import marketing_text
from comptoir.compliance.policy import Candidate, Context, policy_for_workspace, refusals
from comptoir.contacts.models import Contact
from comptoir.contacts.phones import Phone, parse_phone
from comptoir.contacts.services import contacts_for_phones
from comptoir.core.bulk import insert_objects
from comptoir.core.errors import Conflict, NotFound, ValidationError
from comptoir.core.ids import uuid7
from comptoir.dispatch.wakeup import wake_after_commit
from comptoir.messaging.encoding import SegmentInfo, analyze
from comptoir.messaging.models import PRIORITY, Message, MessageTransition, Purpose, Status
from comptoir.workspaces.models import Workspace


@dataclass(frozen=True, slots=True)
class SendRequest:
    """One message asked for: `to` is a phone number (any format) or a contact id."""

    to: str
    body: str
    purpose: str = Purpose.CONVERSATIONAL
    idempotency_key: str | None = None
    send_at: dt.datetime | None = None
    kind: str = ""  # set by the system for its own answers, e.g. "opt_out_confirmation"
    author_id: int | None = None  # the staff member who wrote it


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
    raw = "\x1f".join((to, request.body, request.purpose, send_at))
    return hashlib.sha256(raw.encode()).hexdigest()


def _field(prefix: str, index: int, name: str) -> str:
    """The field an error names: `to` for one message, `messages.3.to` in a batch."""
    return f"{prefix}{index}.{name}" if prefix else name


def default_channel(workspace: Workspace, scheme: str = "sms") -> Channel:
    channel = (
        Channel.objects.for_workspace(workspace)
        .filter(scheme=scheme)
        .exclude(status=ChannelStatus.DISABLED)
        .order_by("-is_default", "created_at")
        .first()
    )
    if channel is None:
        raise ValidationError(_("This workspace has no %(scheme)s channel.") % {"scheme": scheme})
    return channel


def _resolve_recipients(
    workspace: Workspace, requests: Sequence[SendRequest], prefix: str
) -> list[Contact]:
    phones: dict[int, Phone] = {}
    contact_ids: dict[int, uuid.UUID] = {}
    for index, request in enumerate(requests):
        to = (request.to or "").strip()
        try:
            contact_ids[index] = uuid.UUID(to)
            continue
        except ValueError:
            pass
        phones[index] = parse_phone(to, region=workspace.region, field=_field(prefix, index, "to"))
    by_phone = contacts_for_phones(workspace=workspace, phones=phones.values())
    by_id = {
        c.id: c
        for c in Contact.objects.for_workspace(workspace).filter(id__in=contact_ids.values())
    }
    contacts = []
    for index in range(len(requests)):
        if index in phones:
            contacts.append(by_phone[phones[index].e164])
        elif contact_ids[index] in by_id:
            contacts.append(by_id[contact_ids[index]])
        else:
            message = _("No contact with id %(id)s.") % {"id": contact_ids[index]}
            raise NotFound(message, field=_field(prefix, index, "to"))
    return contacts


def _enqueue(
    workspace: Workspace,
    requests: Sequence[SendRequest],
    infos: Sequence[SegmentInfo],
    field_prefix: str,
    now: dt.datetime,
) -> tuple[list[Enqueued | None], list[Message]]:
    """Resolve recipients, apply idempotency and compliance, write; inside one transaction."""
    channel = default_channel(workspace)
    contacts = _resolve_recipients(workspace, requests, field_prefix)
    hashes = [_request_hash(r, c.phone) for r, c in zip(requests, contacts, strict=True)]

    keys = [r.idempotency_key for r in requests if r.idempotency_key]
    existing = {
        m.idempotency_key: m
        for m in Message.objects.for_workspace(workspace).filter(idempotency_key__in=keys)
    }
    results: list[Enqueued | None] = []
    new: list[Message] = []
    seen_keys: dict[str, int] = {}
    for index, (request, contact, info, request_hash) in enumerate(
        zip(requests, contacts, infos, hashes, strict=True)
    ):
        key = request.idempotency_key or None  # "" is no key, not a key shared by all
        if key and (key in existing or key in seen_keys):
            prior = existing.get(key) or new[seen_keys[key]]
            if prior.request_hash != request_hash:
                raise IdempotencyConflict(
                    _("Idempotency key %(key)r was used for a different message.") % {"key": key},
                    field=_field(field_prefix, index, "idempotency_key"),
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
                channel=channel,
                contact=contact,
                address=contact.phone,
                body=info.text,
                purpose=request.purpose,
                priority=PRIORITY[Purpose(request.purpose)],
                status=Status.QUEUED,
                send_at=request.send_at or now,
                idempotency_key=key,
                request_hash=request_hash,
                encoding=info.encoding.value,
                segments=info.segments,
                kind=request.kind,
                author_id=request.author_id,
            )
        )
    context = Context(workspace=workspace, stage="create", now=now)
    blocked = refusals(
        [
            Candidate(
                key=i,
                scheme=channel.scheme,
                number_type=m.contact.number_type,
                purpose=m.purpose,
                contact_id=m.contact.id,
                kind=m.kind,
                phone=m.address,
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
    if any(m.status == Status.QUEUED for m in new):
        wake_after_commit(channel.id)
    return results, new


def messages_send(
    *, workspace: Workspace, requests: Sequence[SendRequest], field_prefix: str = ""
) -> list[Enqueued]:
    """Validate and queue messages in one transaction, then wake the dispatcher.

    Everything is checked before anything is written: one bad item refuses the whole call
    with the item's field and reason. A repeated idempotency key with the same request
    returns the existing message; with a different request it is a conflict.
    """
    now = timezone.now()
    valid_purposes = set(Purpose.values)
    infos = []
    for index, request in enumerate(requests):
        if request.purpose not in valid_purposes:
            raise ValidationError(
                _("Unknown purpose %(purpose)r: use one of %(choices)s.")
                % {"purpose": request.purpose, "choices": ", ".join(sorted(valid_purposes))},
                field=_field(field_prefix, index, "purpose"),
            )
        if not request.body or not request.body.strip():
            raise ValidationError(
                _("The message body is empty."), field=_field(field_prefix, index, "body")
            )
        body = request.body
        if request.purpose == Purpose.MARKETING:
            body = marketing_text(body, policy_for_workspace(workspace))
        info = analyze(body)
        if info.segments > workspace.segment_cap:
            raise ValidationError(
                _("The body is %(n)d SMS segments long; this workspace allows %(cap)d.")
                % {"n": info.segments, "cap": workspace.segment_cap},
                field=_field(field_prefix, index, "body"),
            )
        if request.send_at is not None and timezone.is_naive(request.send_at):
            raise ValidationError(
                _("send_at needs a time zone (e.g. 2026-11-24T10:00:00+01:00)."),
                field=_field(field_prefix, index, "send_at"),
            )
        infos.append(info)

    for attempt in range(2):
        try:
            with transaction.atomic():
                results, new = _enqueue(workspace, requests, infos, field_prefix, now)
            break
        except IntegrityError:
            # A concurrent call took one of our idempotency keys: answer as if it came
            # first, once; anything else (or a second time) is not ours to hide.
            if attempt or not any(r.idempotency_key for r in requests):
                raise

    created = iter(new)
    out = []
    for result, info in zip(results, infos, strict=True):
        replaced = tuple((r.original, r.replacement, r.count) for r in info.replacements)
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
) -> Enqueued:
    """Queue one message (see `messages_send`)."""
    request = SendRequest(to, body, purpose, idempotency_key, send_at)
    return messages_send(workspace=workspace, requests=[request])[0]
