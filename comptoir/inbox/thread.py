"""A conversation's thread: the customer's messages and the conversation's events, by time.

Messages are not copied into conversations: a customer's thread is every message to or
from them (replies, reminders, campaigns, on any channel), so staff see what the customer
is answering. A team's thread is its broadcasts (once each) and its members' replies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from comptoir.contacts.models import Contact
from comptoir.inbox.models import Conversation, ConversationEvent
from comptoir.inbox.services import TEAM_BROADCAST, TEAM_REPLY
from comptoir.messaging.models import Direction, Message

THREAD_LIMIT = 100


@dataclass
class ThreadItem:
    at: dt.datetime
    message: Message | None = None
    event: ConversationEvent | None = None
    # A team broadcast is shown once, with how many members it went to.
    recipients: list[Message] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"m{self.message.id}" if self.message else f"e{self.event.id}"  # type: ignore[union-attr]


def thread_messages(conversation: Conversation) -> QuerySet[Message]:
    rows = Message.objects.for_workspace(conversation.workspace_id)
    if conversation.contact_id:
        return rows.filter(contact_id=conversation.contact_id)
    if conversation.team_id:
        members = Contact.objects.filter(team_members__team_id=conversation.team_id)
        return rows.filter(contact__in=members, kind__in=(TEAM_BROADCAST, TEAM_REPLY))
    return rows.filter(contact__isnull=True, direction=Direction.IN, address=conversation.sender)


def thread(
    conversation: Conversation, *, limit: int = THREAD_LIMIT, after: dt.datetime | None = None
) -> list[ThreadItem]:
    """The latest `limit` items, oldest first; with `after`, only what came since."""
    messages = thread_messages(conversation).select_related("author", "contact")
    events = conversation.events.select_related("author")
    if after is not None:
        messages = messages.filter(created_at__gt=after)
        events = events.filter(at__gt=after)
    items = [ThreadItem(m.created_at, message=m) for m in messages.order_by("-created_at")[:limit]]
    items += [ThreadItem(e.at, event=e) for e in events.order_by("-at", "-id")[:limit]]
    items.sort(key=lambda i: (i.at, i.key))
    return _collapse_broadcasts(items[-limit:])


def _collapse_broadcasts(items: list[ThreadItem]) -> list[ThreadItem]:
    out: list[ThreadItem] = []
    by_token: dict[str, ThreadItem] = {}
    for item in items:
        message = item.message
        if message is not None and message.kind == TEAM_BROADCAST and message.idempotency_key:
            token = message.idempotency_key.split(":")[2]
            first = by_token.get(token)
            if first is not None:
                first.recipients.append(message)
                continue
            item.recipients.append(message)
            by_token[token] = item
        out.append(item)
    return out


def thread_latest(conversation: Conversation) -> Any:
    """When the newest item was written: the live view asks only for what came after."""
    items = thread(conversation, limit=1)
    return items[-1].at if items else None
