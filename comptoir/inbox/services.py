"""Conversations: what a customer's message, a staff reply, a note or an assignment does.

Every change to a conversation's counters takes a row lock first, so two staff members
replying at once, or a reply racing a new message, each see the other's write.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.contacts.models import Contact
from comptoir.core.errors import NotFound, ValidationError
from comptoir.inbox.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
    InboxSettings,
    Team,
)
from comptoir.inbox.priority import base_points, rank_at
from comptoir.messaging.models import Message, Purpose, Status
from comptoir.messaging.outbox import Enqueued, SendRequest, messages_send
from comptoir.workspaces.memo import workspace_memo
from comptoir.workspaces.models import Membership, Workspace

KEYWORD_PREFIX = "keyword_"
# Customers' messages the system answered itself: an appointment confirmed by "C", an
# interest survey answer, a satisfaction score (not a low one: that one waits for staff).
# Like STOP, they wait for nobody (and get no auto-answer).
HANDLED_KINDS = frozenset(
    {
        "appointment_reply",
        "profiling_answer",
        "survey_answer",
        "waitlist_reply",
        "alert_ack",
        "channel_answer",
    }
)


def handled_by_system(message: Message) -> bool:
    return message.kind.startswith(KEYWORD_PREFIX) or message.kind in HANDLED_KINDS


TEAM_BROADCAST = "team_broadcast"
TEAM_REPLY = "team_reply"
PREVIEW = 160


def inbox_settings(workspace: Workspace) -> InboxSettings:
    """The workspace's inbox settings, created with the defaults on first use."""
    return workspace_memo(
        workspace,
        "inbox_settings",
        lambda: InboxSettings.objects.get_or_create(workspace=workspace)[0],
    )


def conversation_for(
    workspace: Workspace | Any,
    *,
    contact: Contact | None = None,
    team: Team | None = None,
    sender: str = "",
) -> Conversation:
    """The one conversation with a customer, a team or an unanswerable sender."""
    lookup: dict[str, Any]
    if contact is not None:
        lookup = {"contact": contact}
    elif team is not None:
        lookup = {"team": team}
    else:
        lookup = {"sender": sender}
    found = Conversation.objects.filter(workspace=workspace, **lookup).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Conversation.objects.create(workspace=workspace, **lookup)
    except IntegrityError:  # created meanwhile by another request
        return Conversation.objects.get(workspace=workspace, **lookup)


def _locked(conversation: Conversation) -> Conversation:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("contact", "workspace")
        .get(id=conversation.id)
    )


def rescore(conversation: Conversation) -> None:
    conversation.score_base = base_points(
        vip=conversation.vip,
        urgent=bool(conversation.urgent_word or conversation.flag),
        unanswered=conversation.unanswered,
    )
    if conversation.status == ConversationStatus.OPEN:
        conversation.rank_at = rank_at(
            waiting_since=conversation.waiting_since, base=conversation.score_base
        )
    else:
        conversation.rank_at = None


def last_message_set(conversation: Conversation, message: Message) -> None:
    conversation.last_message_at = message.created_at or timezone.now()
    conversation.last_preview = message.body[:PREVIEW]
    conversation.last_direction = message.direction


def conversation_answered(
    conversation: Conversation, message: Message, *, answers: bool = True
) -> Conversation:
    """The shop wrote: with `answers`, the customer's questions count as answered."""
    conversation = _locked(conversation)
    last_message_set(conversation, message)
    if answers:
        conversation.unanswered = 0
        conversation.waiting_since = None
        conversation.urgent_word = conversation.flag = ""
        if conversation.status == ConversationStatus.OPEN:
            conversation.status = ConversationStatus.WAITING
    rescore(conversation)
    conversation.save()
    return conversation


def _member_contacts(team_id: Any) -> QuerySet[Contact]:
    return Contact.objects.filter(team_members__team_id=team_id)


def team_broadcast(*, team: Team, body: str, author: Any = None, token: str = "") -> list[Enqueued]:
    """Text every member of a team; their replies land in the team's conversation.

    The same `token` (one per reply box) sends the broadcast once however often it is posted.
    """
    members = list(_member_contacts(team.id).order_by("created_at"))
    if not members:
        raise ValidationError(_("This team has no members with a phone number."), field="team")
    token = token or uuid.uuid4().hex
    requests = [
        SendRequest(
            to=str(contact.id),
            body=body,
            purpose=Purpose.TRANSACTIONAL,  # work messages to employees, not marketing
            idempotency_key=f"team:{team.id}:{token}:{contact.id}",
            kind=TEAM_BROADCAST,
            author_id=getattr(author, "id", None),
        )
        for contact in members
    ]
    with transaction.atomic():
        results = messages_send(workspace=team.workspace, requests=requests)
        conversation = conversation_for(team.workspace, team=team)
        conversation_answered(conversation, results[0].message)
    return results


class ReplyRefused(ValidationError):
    code = "reply_refused"


def conversation_reply(
    *, conversation: Conversation, body: str, author: Any = None, token: str = ""
) -> Message:
    """Send a staff reply; `token` (one per reply box) makes a double submit send once.

    A reply compliance refuses (the customer opted out) is kept as blocked, with its
    reason, and raised as ReplyRefused so the reply box says why.
    """
    if not conversation.replyable:
        raise ValidationError(
            _("%(sender)s is a sender name, not a number: it cannot receive a reply.")
            % {"sender": conversation.sender},
            field="body",
        )
    if conversation.team is not None:
        sent = team_broadcast(team=conversation.team, body=body, author=author, token=token)
        return sent[0].message
    assert conversation.contact_id is not None
    request = SendRequest(
        to=str(conversation.contact_id),
        body=body,
        purpose=Purpose.CONVERSATIONAL,
        idempotency_key=f"reply:{conversation.id}:{token}" if token else None,
        author_id=getattr(author, "id", None),
    )
    with transaction.atomic():
        result = messages_send(workspace=conversation.workspace, requests=[request])[0]
        message = result.message
        if result.created and message.status != Status.BLOCKED:
            conversation_answered(conversation, message)
    if message.status == Status.BLOCKED:
        raise ReplyRefused(
            _("Not sent: %(reason)s") % {"reason": message.error_reason}, field="body"
        )
    return message


def _event(
    conversation: Conversation, kind: str, *, author: Any = None, body: str = "", **data: Any
) -> ConversationEvent:
    return ConversationEvent.objects.create(
        conversation=conversation,
        kind=kind,
        author=author,
        body=body,
        data=data,
        at=timezone.now(),
    )


def conversation_note(*, conversation: Conversation, body: str, author: Any) -> ConversationEvent:
    """An internal note: in the thread for staff, never sent to the customer."""
    if not body.strip():
        raise ValidationError(_("The note is empty."), field="body")
    return _event(conversation, EventKind.NOTE, author=author, body=body.strip())


def member_user(workspace: Workspace | Any, user_id: Any) -> Any:
    """A staff member of this workspace by id (to assign), or NotFound."""
    user = get_user_model().objects.filter(id=user_id, memberships__workspace=workspace).first()
    if user is None:
        raise NotFound(
            _("No staff member %(id)s in this workspace.") % {"id": user_id}, field="assignee"
        )
    return user


def conversation_assign(
    *, conversation: Conversation, assignee: Any, author: Any = None
) -> Conversation:
    """Give the conversation to a staff member of the workspace (None: to nobody)."""
    with transaction.atomic():
        conversation = _locked(conversation)
        if conversation.assignee_id == getattr(assignee, "id", None):
            return conversation
        conversation.assignee = assignee
        conversation.save(update_fields=["assignee", "updated_at"])
        name = assignee.get_username() if assignee is not None else ""
        _event(conversation, EventKind.ASSIGNED, author=author, assignee=name)
    return conversation


def conversation_set_status(
    *, conversation: Conversation, status: str, author: Any = None
) -> Conversation:
    if status not in ConversationStatus.values:
        raise ValidationError(
            _("Unknown status %(status)r: use one of %(choices)s.")
            % {"status": status, "choices": ", ".join(ConversationStatus.values)},
            field="status",
        )
    with transaction.atomic():
        conversation = _locked(conversation)
        if conversation.status == status:
            return conversation
        conversation.status = status
        if status == ConversationStatus.OPEN:
            conversation.waiting_since = conversation.waiting_since or timezone.now()
        else:
            conversation.unanswered, conversation.waiting_since = 0, None
            conversation.urgent_word = conversation.flag = ""
        rescore(conversation)
        conversation.save()
        _event(conversation, EventKind.STATUS, author=author, status=status)
    return conversation


def conversation_read(conversation: Conversation) -> None:
    """A staff member opened it: nothing in it is new any more."""
    if conversation.unread:
        Conversation.objects.filter(id=conversation.id).update(unread=0)
        conversation.unread = 0


def prospect_promote(
    *, conversation: Conversation, first_name: str, last_name: str = "", author: Any = None
) -> Contact:
    """A prospect becomes a customer once staff type in a name."""
    contact = conversation.contact
    if contact is None:
        raise ValidationError(_("This conversation is not with a customer."), field="contact")
    if not first_name.strip() and not last_name.strip():
        raise ValidationError(_("Type the customer's name."), field="first_name")
    with transaction.atomic():
        contact.first_name, contact.last_name = first_name.strip(), last_name.strip()
        contact.is_prospect = False
        contact.save(update_fields=["first_name", "last_name", "is_prospect", "updated_at"])
        _event(conversation, EventKind.CONTACT, author=author, name=contact.display_name)
    return contact


def conversations_list(
    workspace: Workspace | Any, *, user: Any = None, view: str = "all", status: str = ""
) -> QuerySet[Conversation]:
    """Conversations for the list: open ones by score, then the others, latest first.

    `view`: "mine", "unassigned", "prospects" or "all"; `status` narrows to one status
    ("" shows open and waiting).
    """
    rows = Conversation.objects.for_workspace(workspace).select_related(
        "contact", "team", "assignee"
    )
    if view == "mine":
        rows = rows.filter(assignee=user)
    elif view == "unassigned":
        rows = rows.filter(assignee__isnull=True)
    elif view == "prospects":
        rows = rows.filter(contact__is_prospect=True)
    elif view != "all":
        raise ValidationError(
            _("Unknown view %(view)r: use mine, unassigned, prospects or all.") % {"view": view},
            field="view",
        )
    if status:
        if status not in ConversationStatus.values:
            raise ValidationError(
                _("Unknown status %(status)r.") % {"status": status}, field="status"
            )
        rows = rows.filter(status=status)
    else:
        rows = rows.exclude(status=ConversationStatus.CLOSED)
    return rows.order_by(
        "status",  # "open" < "waiting": the ones needing an answer first
        F("rank_at").asc(nulls_last=True),
        F("last_message_at").desc(nulls_last=True),
    )


def unread_count(workspace: Workspace | Any, user: Any) -> int:
    """New customer messages for this staff member: theirs or no one's."""
    return (
        Conversation.objects.for_workspace(workspace)
        .filter(unread__gt=0)
        .filter(Q(assignee=user) | Q(assignee__isnull=True))
        .exclude(status=ConversationStatus.CLOSED)
        .count()
    )


def workspace_staff(workspace: Workspace | Any) -> QuerySet[Any]:
    return (
        get_user_model()
        .objects.filter(id__in=Membership.objects.filter(workspace=workspace).values("user_id"))
        .order_by("username")
    )
