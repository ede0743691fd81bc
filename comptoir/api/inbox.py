"""The inbox and webhook endpoints of the REST API: thin over the inbox and webhook services.

Mounted at /api/v1/ by api.py, which also provides authentication (the workspace of the
Bearer key) and turns service errors into `{"error": {code, field, message}}`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status

from comptoir.api.common import request_workspace
from comptoir.api.inbox_schemas import (
    AssignIn,
    ConversationDetailOut,
    ConversationOut,
    ConversationPage,
    DeliveryOut,
    NoteIn,
    NoteOut,
    ReplyIn,
    StatusIn,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
)
from comptoir.api.schemas import ErrorOut, MessageOut
from comptoir.core.errors import NotFound
from comptoir.inbox.models import Conversation, ConversationEvent
from comptoir.inbox.priority import conversation_parts
from comptoir.inbox.services import (
    conversation_assign,
    conversation_note,
    conversation_reply,
    conversation_set_status,
    conversations_list,
    member_user,
)
from comptoir.inbox.thread import ThreadItem, thread
from comptoir.messaging.models import Message
from comptoir.webhooks.models import WebhookDelivery, WebhookEndpoint
from comptoir.webhooks.services import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_get,
)

router = Router()

INBOX = ["inbox"]
WEBHOOKS = ["webhooks"]


def _scored(conversation: Conversation, now: dt.datetime) -> Conversation:
    """The conversation with its score now, and the reasons that make it up."""
    parts = conversation_parts(conversation, now)
    conversation.score_reasons = parts  # type: ignore[attr-defined]
    conversation.score = sum(p.points for p in parts)  # type: ignore[attr-defined]
    return conversation


def _conversation(request: HttpRequest, conversation_id: uuid.UUID) -> Conversation:
    """The workspace's conversation, or 404 (another workspace's id is not found either)."""
    found = (
        Conversation.objects.for_workspace(request_workspace(request))
        .select_related("contact", "team", "assignee", "workspace")
        .prefetch_related("contact__tags")
        .filter(id=conversation_id)
        .first()
    )
    if found is None:
        raise NotFound("No such conversation.", field="conversation_id")
    return found


@router.get(
    "/conversations",
    response={200: ConversationPage, 422: ErrorOut},
    tags=INBOX,
    summary="Conversations: open ones by priority score, then the others, latest first",
)
def list_conversations(
    request: HttpRequest,
    view: Literal["all", "unassigned", "prospects"] = "all",
    status: Literal["open", "waiting", "closed"] | None = Query(
        None, description="One status; by default open and waiting ones."
    ),
    assignee: int | None = Query(None, description="A staff member's user id."),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=100_000),
) -> dict[str, Any]:
    rows = conversations_list(request_workspace(request), view=view, status=status or "")
    if assignee is not None:
        rows = rows.filter(assignee_id=assignee)
    # The id breaks ties, so pages neither repeat nor skip a row with the same rank.
    rows = rows.order_by(*rows.query.order_by, "id").prefetch_related("contact__tags")
    page = list(rows[offset : offset + limit + 1])
    now = timezone.now()
    return {
        "items": [_scored(c, now) for c in page[:limit]],
        "next_offset": offset + limit if len(page) > limit else None,
    }


def _thread_item(item: ThreadItem) -> dict[str, Any]:
    if item.message is not None:
        message = item.message
        return {
            "type": "message",
            "at": item.at,
            "message": {
                "id": message.id,
                "direction": message.direction,
                "body": message.body,
                "status": message.status,
                "error_code": message.error_code,
                "error_reason": message.error_reason,
                "kind": message.kind,
                "author": message.author.get_username() if message.author else None,
                "channel_id": message.channel_id,
                "recipients": len(item.recipients),
                "created_at": message.created_at,
            },
        }
    event = item.event
    assert event is not None
    return {
        "type": "event",
        "at": item.at,
        "event": {
            "id": event.id,
            "kind": event.kind,
            "body": event.body,
            "author": event.author.get_username() if event.author else None,
            "data": event.data,
        },
    }


@router.get(
    "/conversations/{conversation_id}",
    response={200: ConversationDetailOut, 404: ErrorOut},
    tags=INBOX,
    summary="A conversation and its thread: messages (with status and error), notes, calls",
)
def get_conversation(
    request: HttpRequest,
    conversation_id: uuid.UUID,
    limit: int = Query(100, ge=1, le=500),
    after: Annotated[
        dt.datetime | None, Query(description="Only items after this instant.")
    ] = None,
) -> Conversation:
    conversation = _scored(_conversation(request, conversation_id), timezone.now())
    items = thread(conversation, limit=limit, after=after)
    conversation.thread = [_thread_item(i) for i in items]  # type: ignore[attr-defined]
    return conversation


@router.post(
    "/conversations/{conversation_id}/reply",
    response={202: MessageOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    tags=INBOX,
    summary="Reply to the customer (422 reply_refused, with the reason, when the rules forbid it)",
)
def reply(request: HttpRequest, conversation_id: uuid.UUID, payload: ReplyIn) -> Status[Message]:
    conversation = _conversation(request, conversation_id)
    message = conversation_reply(
        conversation=conversation, body=payload.body, token=payload.idempotency_key or ""
    )
    return Status(202, message)


@router.post(
    "/conversations/{conversation_id}/assign",
    response={200: ConversationOut, 404: ErrorOut, 422: ErrorOut},
    tags=INBOX,
    summary="Give the conversation to a staff member (assignee: user id), or to nobody (null)",
)
def assign(request: HttpRequest, conversation_id: uuid.UUID, payload: AssignIn) -> Conversation:
    conversation = _conversation(request, conversation_id)
    assignee = None
    if payload.assignee is not None:
        assignee = member_user(request_workspace(request), payload.assignee)
    conversation_assign(conversation=conversation, assignee=assignee)
    return _scored(_conversation(request, conversation_id), timezone.now())


@router.post(
    "/conversations/{conversation_id}/status",
    response={200: ConversationOut, 404: ErrorOut, 422: ErrorOut},
    tags=INBOX,
    summary="Open, mark as waiting for the customer, or close a conversation",
)
def set_status(request: HttpRequest, conversation_id: uuid.UUID, payload: StatusIn) -> Conversation:
    conversation = _conversation(request, conversation_id)
    conversation_set_status(conversation=conversation, status=payload.status)
    return _scored(_conversation(request, conversation_id), timezone.now())


@router.post(
    "/conversations/{conversation_id}/notes",
    response={201: NoteOut, 404: ErrorOut, 422: ErrorOut},
    tags=INBOX,
    summary="Add an internal note: staff see it in the thread, the customer never does",
)
def add_note(
    request: HttpRequest, conversation_id: uuid.UUID, payload: NoteIn
) -> Status[ConversationEvent]:
    conversation = _conversation(request, conversation_id)
    note = conversation_note(conversation=conversation, body=payload.body, author=None)
    return Status(201, note)


@router.get("/webhooks", response=list[WebhookOut], tags=WEBHOOKS, summary="Webhook endpoints")
def list_webhooks(request: HttpRequest) -> list[WebhookEndpoint]:
    return list(
        WebhookEndpoint.objects.for_workspace(request_workspace(request)).order_by("created_at")
    )


@router.post(
    "/webhooks",
    response={201: WebhookCreatedOut, 422: ErrorOut},
    tags=WEBHOOKS,
    summary="Subscribe a URL to events; the answer holds the signing secret, shown only once",
)
def create_webhook(request: HttpRequest, payload: WebhookIn) -> Status[dict[str, Any]]:
    endpoint, secret = webhook_endpoint_create(
        workspace=request_workspace(request),
        url=payload.url,
        events=payload.events,
        active=payload.active,
    )
    fields = ("id", "url", "events", "active", "created_at")
    return Status(201, {**{f: getattr(endpoint, f) for f in fields}, "secret": secret})


@router.delete(
    "/webhooks/{webhook_id}",
    response={204: None, 404: ErrorOut},
    tags=WEBHOOKS,
    summary="Unsubscribe: pending deliveries are dropped",
)
def delete_webhook(request: HttpRequest, webhook_id: uuid.UUID) -> Status[None]:
    webhook_endpoint_delete(workspace=request_workspace(request), endpoint_id=webhook_id)
    return Status(204, None)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response={200: list[DeliveryOut], 404: ErrorOut, 422: ErrorOut},
    tags=WEBHOOKS,
    summary="An endpoint's recent deliveries, newest first, with their status and last error",
)
def list_deliveries(
    request: HttpRequest,
    webhook_id: uuid.UUID,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: int = Query(50, ge=1, le=200),
) -> list[WebhookDelivery]:
    endpoint = webhook_endpoint_get(workspace=request_workspace(request), endpoint_id=webhook_id)
    rows = WebhookDelivery.objects.for_workspace(endpoint.workspace_id).filter(endpoint=endpoint)
    if status is not None:
        rows = rows.filter(status=status)
    return list(rows.order_by("-created_at", "-id")[:limit])
