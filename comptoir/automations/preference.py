"""Asking customers how they prefer to be reached, and recording their answer.

`preference_ask` texts "Comment préférez-vous être contacté ? Répondez 1 SMS, 2 appel,
3 email"; an inbound step (before the inbox files the messages) reads a reply of 1/2/3 or
a word (SMS, appel, call, email, mail…) from a contact whose latest question, within
7 days, was this one, and records it as `Contact.preferred_channel`. The reply is then
handled (kind `channel_answer`): it waits for nobody in the inbox.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from collections.abc import Sequence

from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.contacts.models import Contact
from comptoir.core.errors import NotFound, ValidationError
from comptoir.messaging.awaiting import awaiting_filter
from comptoir.messaging.models import Direction, Message, Purpose
from comptoir.messaging.outbox import Enqueued, SendRequest, messages_send
from comptoir.workspaces.models import Workspace

QUESTION_KIND = "channel_question"
ANSWER_KIND = "channel_answer"
WINDOW = dt.timedelta(days=7)
MAX_CONTACTS = 1000
QUESTIONS = {
    "fr": "Comment préférez-vous être contacté par {shop} ? "
    "Répondez 1 pour SMS, 2 pour un appel, 3 pour un email.",
    "en": "How would you like {shop} to contact you? "
    "Reply 1 for text messages, 2 for a call, 3 for email.",
}
WORDS = {
    "sms": {"1", "sms", "texto", "text", "texte", "message", "messages"},
    "voice": {
        "2",
        "appel",
        "appels",
        "call",
        "calls",
        "voice",
        "voix",
        "telephone",
        "tel",
        "phone",
    },
    "email": {"3", "email", "emails", "mail", "mails", "e-mail", "courriel", "mel"},
}
FILLER = {"pour", "par", "un", "une", "le", "la", "for", "by", "a", "an", "merci", "thanks"}


def answer_parse(text: str) -> str | None:
    """'2', 'Appel', '3 email merci', 'SMS!' -> sms / voice / email; None when unclear."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = [w for w in re.findall(r"[a-z0-9-]+", plain) if w not in FILLER]
    if not words or len(words) > 4:
        return None
    found = {channel for channel, known in WORDS.items() for w in words if w in known}
    unknown = [w for w in words if not any(w in known for known in WORDS.values())]
    if len(found) != 1 or unknown:
        return None
    return found.pop()


def preference_ask(*, workspace: Workspace, contact_ids: Sequence[str]) -> list[Enqueued]:
    """Text each contact the question (once a day at most: a repeat finds the first)."""
    if not contact_ids:
        raise ValidationError(_("Name at least one contact."), field="contact_ids")
    if len(contact_ids) > MAX_CONTACTS:
        raise ValidationError(
            _("At most %(n)d contacts at a time.") % {"n": MAX_CONTACTS}, field="contact_ids"
        )
    today = timezone.now().astimezone(workspace.tz).date().isoformat()
    languages = {
        str(contact_id): language
        for contact_id, language in Contact.objects.for_workspace(workspace)
        .filter(id__in=[_uuid(c) for c in contact_ids])
        .values_list("id", "language")
    }
    requests = []
    for contact_id in contact_ids:
        language = languages.get(str(contact_id)) or ""
        text = QUESTIONS.get(language) or QUESTIONS.get(workspace.language) or QUESTIONS["en"]
        requests.append(
            SendRequest(
                to=str(contact_id),
                body=text.format(shop=workspace.name),
                purpose=Purpose.CONVERSATIONAL,
                idempotency_key=f"{QUESTION_KIND}:{contact_id}:{today}",
                kind=QUESTION_KIND,
            )
        )
    return messages_send(workspace=workspace, requests=requests, field_prefix="contact_ids.")


def _uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(
            _("No contact with id %(id)s.") % {"id": value}, field="contact_ids"
        ) from None


def _asked(contact_ids: set[uuid.UUID], now: dt.datetime) -> set[uuid.UUID]:
    """The contacts whose latest question (any kind that awaits an answer) is ours."""
    from comptoir.messaging.awaiting import AWAITED_KINDS

    kinds = {QUESTION_KIND, *AWAITED_KINDS}
    latest: dict[uuid.UUID, str] = {}
    for contact_id, kind in (
        Message.objects.filter(
            contact_id__in=contact_ids,
            direction=Direction.OUT,
            kind__in=kinds,
            created_at__gte=now - WINDOW,
        )
        .order_by("contact_id", "-created_at")
        .values_list("contact_id", "kind")
    ):
        latest.setdefault(contact_id, kind)
    return {c for c, kind in latest.items() if kind == QUESTION_KIND}


def channel_answers_apply(messages: Sequence[Message]) -> None:
    """Inbound step: record the preferred channel of those answering the question."""
    now = timezone.now()
    parsed = {
        m.id: choice
        for m in awaiting_filter(messages, now)  # only customers asked something
        if m.contact_id is not None and not m.kind and (choice := answer_parse(m.body))
    }
    if not parsed:
        return
    senders = {m.id: m.contact_id for m in messages if m.id in parsed and m.contact_id}
    asked = _asked(set(senders.values()), now)
    answers = [m for m in messages if senders.get(m.id) in asked]
    by_choice: dict[str, set[uuid.UUID]] = {}
    for message in answers:  # in arrival order: a later answer wins
        sender = senders[message.id]
        for contacts in by_choice.values():
            contacts.discard(sender)
        by_choice.setdefault(parsed[message.id], set()).add(sender)
        message.kind = ANSWER_KIND
    for choice, contact_ids in by_choice.items():
        Contact.objects.filter(id__in=contact_ids).update(preferred_channel=choice, updated_at=now)
    if answers:
        Message.objects.filter(id__in=[m.id for m in answers]).update(kind=ANSWER_KIND)


def register() -> None:
    """Called once from the automations app's ready(): before the inbox files messages."""
    from comptoir.inbox.filing import conversations_receive
    from comptoir.messaging.awaiting import awaited_kind_register
    from comptoir.messaging.inbound import inbound_step_add

    awaited_kind_register(QUESTION_KIND, WINDOW)
    inbound_step_add(channel_answers_apply, before=conversations_receive)
