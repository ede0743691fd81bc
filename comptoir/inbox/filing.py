"""Filing customers' messages in their conversations: the inbox's inbound step.

It runs inside the transaction that stores a batch of messages (see
`comptoir.messaging.inbound`), so it works on the batch as a whole: a few queries per
workspace (teams, VIP tags, the conversations, locked) and one update per conversation,
whatever the number of messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import F
from django.utils import timezone

from comptoir.contacts.models import Contact, Tag
from comptoir.core.bulk import in_list, insert_objects, key_of, keys_in, update_objects, uuid_keys
from comptoir.core.fetch import objects_where, param, rows_where
from comptoir.core.ids import uuid7
from comptoir.inbox.models import FLAG_LENGTH, Conversation, ConversationStatus, Team, TeamMember
from comptoir.inbox.priority import urgent_word_in, urgent_words
from comptoir.inbox.services import (
    TEAM_BROADCAST,
    TEAM_REPLY,
    handled_by_system,
    inbox_settings,
    last_message_set,
    rescore,
)
from comptoir.messaging.models import Message
from comptoir.workspaces.memo import workspace_memo
from comptoir.workspaces.models import Workspace


def _vip_contacts(workspace: Workspace, contact_ids: Iterable[Any]) -> set[Any]:
    """Which of these contacts carry the workspace's VIP tag (one query, none without it)."""
    tag = inbox_settings(workspace).vip_tag

    def load() -> list[Any]:
        tags = Tag.objects.for_workspace(workspace).filter(name__iexact=tag)
        return list(tags.values_list("id", flat=True))

    tag_ids = workspace_memo(workspace, f"tag_ids:{tag.lower()}", load) if tag else []
    contact_ids = list(contact_ids)
    if not tag_ids or not contact_ids:
        return set()
    # Hand-written, like the other reads of a batch: the ORM compiled it in 0.4 ms.
    by_contact, contact_params = keys_in("contact_id", uuid_keys(contact_ids))
    by_tag, tag_params = keys_in("tag_id", uuid_keys(tag_ids))
    where = f"{by_contact} AND {by_tag}"
    found = rows_where(
        Contact.tags.through, key_of("contact_id"), where, [*contact_params, *tag_params]
    )
    return {uuid.UUID(key) for (key,) in found}


def _receive(conversation: Conversation, message: Message, *, vip: bool) -> None:
    """A customer's message: unread, unanswered (unless a keyword), reopened, re-scored.

    The caller holds the conversation's row lock and saves it.
    """
    workspace = conversation.workspace
    settings = inbox_settings(workspace)
    last_message_set(conversation, message)
    conversation.unread += 1
    if conversation.replyable and not handled_by_system(message):
        # STOP or HELP are answered by the system, and a sender name cannot be answered:
        # neither waits for anyone.
        conversation.unanswered += 1
        conversation.waiting_since = conversation.waiting_since or conversation.last_message_at
        conversation.status = ConversationStatus.OPEN
        language = (conversation.contact.language if conversation.contact else "") or ""
        words = urgent_words({language, workspace.language, "en"} - {""}, settings.urgent_words)
        # An earlier inbound step may flag the message (a low survey score): the latest
        # reason replaces an earlier flag.
        reason = getattr(message, "priority_reason", "")
        conversation.flag = reason[:FLAG_LENGTH] or conversation.flag
        conversation.urgent_word = conversation.urgent_word or urgent_word_in(message.body, words)
    conversation.vip = vip
    rescore(conversation)


def team_members(workspace: Workspace) -> frozenset[Any]:
    """The contacts that are in one of the workspace's teams (kept in its memo)."""
    return workspace_memo(
        workspace,
        "team_members",
        lambda: frozenset(
            TeamMember.objects.filter(team__workspace=workspace).values_list(
                "contact_id", flat=True
            )
        ),
    )


def _teams_of(workspace: Workspace, contacts: Sequence[Contact]) -> dict[Any, Team]:
    """The team each employee's text belongs to: the last one that texted them, else theirs.

    Customers are in no team: the workspace's memo of team members says so without a query.
    """
    employees = [c.id for c in contacts if c.id in team_members(workspace)]
    if not employees:
        return {}
    memberships: dict[Any, list[Team]] = {}
    for team in (
        Team.objects.filter(workspace=workspace, members__contact__in=employees)
        .annotate(member_contact_id=F("members__contact_id"))
        .order_by("created_at")
    ):
        memberships.setdefault(team.member_contact_id, []).append(team)  # type: ignore[attr-defined]
    found: dict[Any, Team] = {}
    for contact_id, teams in memberships.items():
        last = (
            Message.objects.filter(workspace=workspace, contact_id=contact_id, kind=TEAM_BROADCAST)
            .order_by("-created_at")
            .values_list("idempotency_key", flat=True)
            .first()
        )
        by_id = {str(t.id): t for t in teams}
        found[contact_id] = (by_id.get(last.split(":")[1]) if last else None) or teams[0]
    return found


Key = tuple[str, Any]


def _key(conversation: Conversation) -> Key:
    if conversation.contact_id is not None:
        return ("contact", conversation.contact_id)
    if conversation.team_id is not None:
        return ("team", conversation.team_id)
    return ("sender", conversation.sender)


def _conversations_locked(
    workspace: Workspace, keys: set[Key], contacts: dict[Any, Contact]
) -> dict[Key, Conversation]:
    """The conversations for these keys, created when missing, locked (few queries);
    their contacts are the batch's own objects (`contacts`, by id), not read again."""
    fields = {"contact": "contact_id", "team": "team_id", "sender": "sender"}

    def fetch(wanted: set[Key]) -> dict[Key, Conversation]:
        # Hand-written (comptoir.core.fetch): the ORM's compiler cost three times the query.
        quote = connection.ops.quote_name
        clauses, params = [], []
        for kind, name in fields.items():
            values = [param(Conversation, name, value) for k, value in wanted if k == kind]
            if values:
                clause, values_params = in_list(quote(name), values)
                clauses.append(clause)
                params += values_params
        workspace_id = param(Conversation, "workspace_id", workspace.id)
        found = objects_where(
            Conversation,
            f"{quote('workspace_id')} = %s AND ({' OR '.join(clauses)})",
            [workspace_id, *params],
            order_by=quote("id"),  # locked in one order by every batch: no deadlock
            lock=True,
        )
        return {_key(c): c for c in found}

    conversations = fetch(keys)
    missing = keys - conversations.keys()
    if missing:
        now = timezone.now()
        new = [
            Conversation(id=uuid7(), workspace=workspace, created_at=now, **{fields[kind]: value})
            for kind, value in sorted(missing, key=str)
        ]
        # Created meanwhile by another request: theirs is read (and locked) below; ours
        # are locked by the insert itself.
        if insert_objects(new, ignore_conflicts=True) == len(new):
            conversations.update((_key(c), c) for c in new)
        else:
            conversations.update(fetch(missing))
    for conversation in conversations.values():
        conversation.workspace = workspace
        conversation.contact = contacts.get(conversation.contact_id)
    return conversations


def conversations_receive(messages: Sequence[Message]) -> None:
    """Inbound step: file the new messages in their conversations, in the storing
    transaction; a batch costs a few queries per workspace, and one update per conversation."""
    by_workspace: dict[Any, list[Message]] = {}
    for message in messages:
        by_workspace.setdefault(message.workspace_id, []).append(message)
    for received in by_workspace.values():
        workspace = received[0].workspace
        contacts = {m.contact_id: m.contact for m in received if m.contact is not None}
        teams = _teams_of(workspace, list(contacts.values())) if contacts else {}
        keys: list[Key] = []
        for message in received:
            if message.contact_id is None:
                keys.append(("sender", message.address))
            elif message.contact_id in teams:
                message.kind = TEAM_REPLY
                keys.append(("team", teams[message.contact_id].id))
            else:
                keys.append(("contact", message.contact_id))
        team_replies = [m.id for m in received if m.kind == TEAM_REPLY]
        if team_replies:
            Message.objects.filter(id__in=team_replies).update(kind=TEAM_REPLY)
        conversations = _conversations_locked(workspace, set(keys), contacts)
        vips = _vip_contacts(workspace, contacts)
        now = timezone.now()
        for conversation in conversations.values():
            conversation.updated_at = now
        for message, key in zip(received, keys, strict=True):
            conversation = conversations[key]
            _receive(conversation, message, vip=conversation.contact_id in vips)
            message.conversation = conversation  # type: ignore[attr-defined]
        update_objects(list(conversations.values()), RECEIVE_FIELDS)


RECEIVE_FIELDS = (
    "last_message_at",
    "last_preview",
    "last_direction",
    "unread",
    "unanswered",
    "waiting_since",
    "status",
    "urgent_word",
    "flag",
    "vip",
    "score_base",
    "rank_at",
    "updated_at",
)
