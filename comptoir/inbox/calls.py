"""Calls on the shop's line: shown in the caller's conversation, and a missed call texted back.

The text-back goes at most once per caller per period (24 h by default), only to numbers
that can receive a text, with a different text when the shop is closed. It is decided
under a lock on the caller's conversation, so two webhooks for two calls in the same
second send one text.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone

from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact
from comptoir.contacts.phones import TEXTABLE_TYPES
from comptoir.core.errors import ComptoirError
from comptoir.inbox.hours import is_open, next_opening, opening_text
from comptoir.inbox.models import Conversation, ConversationEvent, ConversationStatus, EventKind
from comptoir.inbox.services import (
    _locked,
    conversation_for,
    inbox_settings,
    rescore,
)
from comptoir.messaging.inbound import sender_contact
from comptoir.messaging.models import Message, Purpose
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.messaging.templating import render
from comptoir.providers.base import ChannelEvent

log = logging.getLogger(__name__)

TEXTBACK = "missed_call_textback"
CALL_KINDS = {"missed_call": EventKind.CALL_MISSED, "call_answered": EventKind.CALL_ANSWERED}

DEFAULT_TEXTS = {
    "fr": {
        "open": "Bonjour, c'est {shop}. Désolés d'avoir manqué votre appel ! "
        "Nous vous rappelons très vite, ou répondez simplement à ce SMS.",
        "closed": "Bonjour, c'est {shop}. Nous sommes fermés pour le moment ; nous vous "
        "rappelons dès la réouverture ({next_opening}). Vous pouvez aussi répondre à ce SMS.",
    },
    "en": {
        "open": "Hi, this is {shop}. Sorry we missed your call! "
        "We will call you back shortly, or just reply to this text.",
        "closed": "Hi, this is {shop}. We are closed right now; we will call you back when "
        "we open ({next_opening}). You can also reply to this text.",
    },
}
TEXTBACK_VARIABLES = frozenset({"shop", "first_name", "next_opening"})


def calls_store(channel: Channel, events: Sequence[ChannelEvent]) -> None:
    """Channel-event step: record each call once in its conversation; text back missed ones."""
    for event in events:
        kind = CALL_KINDS.get(event.kind)
        if kind is None:
            continue
        contact = sender_contact(channel, event.sender)
        workspace = channel.workspace
        if contact is None:  # a hidden or malformed caller id: shown, never texted
            conversation = conversation_for(workspace, sender=event.sender or "anonymous")
        else:
            conversation = conversation_for(workspace, contact=contact)
        try:
            with transaction.atomic():
                call = ConversationEvent.objects.create(
                    conversation=conversation,
                    kind=kind,
                    channel=channel,
                    provider_id=event.provider_id,
                    data={"status": str(event.extra.get("status", "")), "from": event.sender},
                    at=timezone.now(),
                )
        except IntegrityError:
            continue  # the same call's webhook, delivered again
        if kind == EventKind.CALL_MISSED:
            conversation = _missed(conversation, call)
            if contact is not None:
                textback_send(conversation=conversation, contact=contact, call=call)


def _missed(conversation: Conversation, call: ConversationEvent) -> Conversation:
    """A missed call asks for a call back: the conversation opens, unread and waiting."""
    conversation = _locked(conversation)
    conversation.unread += 1
    conversation.unanswered += 1  # a missed call waits for a call back like a question
    conversation.status = ConversationStatus.OPEN
    conversation.waiting_since = conversation.waiting_since or call.at
    conversation.last_message_at = call.at
    conversation.last_preview = "📞"
    conversation.last_direction = "in"
    rescore(conversation)
    conversation.save()
    return conversation


def textback_text(workspace: object, contact: Contact, local: dt.datetime) -> str:
    settings = inbox_settings(workspace)  # type: ignore[arg-type]
    language = contact.language or workspace.language  # type: ignore[attr-defined]
    defaults = DEFAULT_TEXTS.get(language, DEFAULT_TEXTS["en"])
    opened = is_open(settings.opening_hours, local)
    template = (settings.textback_open if opened else settings.textback_closed) or defaults[
        "open" if opened else "closed"
    ]
    values = {
        "shop": workspace.name,  # type: ignore[attr-defined]
        "first_name": contact.first_name,
        "next_opening": opening_text(next_opening(settings.opening_hours, local), language),
    }
    return render(template, values)


def textback_send(
    *, conversation: Conversation, contact: Contact, call: ConversationEvent
) -> Message | None:
    """Text a missed caller back, unless the rules say not to; the reason goes on the call."""
    workspace = conversation.workspace
    settings = inbox_settings(workspace)
    now = timezone.now()
    skipped = ""
    if not settings.textback_enabled:
        skipped = "disabled"
    elif contact.number_type not in TEXTABLE_TYPES:
        skipped = "not_mobile"
    else:
        since = now - dt.timedelta(hours=settings.textback_period_hours)
        # The conversation row is locked (by _missed): a concurrent call waits here.
        if Message.objects.filter(
            workspace=workspace, contact=contact, kind=TEXTBACK, created_at__gte=since
        ).exists():
            skipped = "already_sent"
    message = None
    if not skipped:
        try:
            text = textback_text(workspace, contact, now.astimezone(workspace.tz))
            result = messages_send(
                workspace=workspace,
                requests=[
                    SendRequest(
                        to=str(contact.id),
                        body=text,
                        purpose=Purpose.CONVERSATIONAL,
                        idempotency_key=f"{TEXTBACK}:{call.id}",
                        kind=TEXTBACK,
                    )
                ],
            )[0]
            message = result.message
        except ComptoirError as exc:  # a broken custom text must not lose the call
            log.warning("workspace %s: text-back not sent: %s", workspace.id, exc.message)
            skipped = "error"
    call.data["textback"] = skipped or "sent"
    call.save(update_fields=["data"])
    return message
