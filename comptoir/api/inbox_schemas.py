"""What the inbox and webhook endpoints of the REST API take and give."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from ninja import Field, Schema

from comptoir.api.schemas import InputSchema

MAX_NOTE = 10_000


class ContactSummary(Schema):
    id: uuid.UUID
    phone: str
    name: str = Field(description="First and last name; empty for a prospect.")
    is_prospect: bool
    tags: list[str]

    @staticmethod
    def resolve_name(obj: Any) -> str:
        return f"{obj.first_name} {obj.last_name}".strip()

    @staticmethod
    def resolve_tags(obj: Any) -> list[str]:
        return sorted(t.name for t in obj.tags.all())


class TeamSummary(Schema):
    id: uuid.UUID
    name: str


class StaffSummary(Schema):
    id: int
    username: str


class ScoreReason(Schema):
    label: str
    points: int


class ConversationOut(Schema):
    id: uuid.UUID
    title: str
    contact: ContactSummary | None = Field(description="The customer; null for a team or a name.")
    team: TeamSummary | None
    sender: str = Field(description='A sender that cannot be answered, e.g. "AMAZON".')
    status: str = Field(description="open (needs an answer), waiting (answered) or closed.")
    assignee: StaffSummary | None
    unread: int = Field(description="Customer messages no staff member has opened yet.")
    unanswered: int = Field(description="Customer messages since the shop last answered.")
    waiting_since: dt.datetime | None
    score: int = Field(description="Priority: the sum of score_reasons' points.")
    score_reasons: list[ScoreReason]
    last_message_at: dt.datetime | None
    last_preview: str
    last_direction: str
    created_at: dt.datetime


class ConversationPage(Schema):
    items: list[ConversationOut]
    next_offset: int | None = Field(
        description="Pass as `offset` for the next page; null at the end."
    )


class ThreadMessage(Schema):
    id: uuid.UUID
    direction: str
    body: str
    status: str
    error_code: str
    error_reason: str
    kind: str
    author: str | None = Field(description="The staff member who wrote it, for replies.")
    channel_id: uuid.UUID
    recipients: int = Field(description="For a team broadcast: how many members it went to.")
    created_at: dt.datetime


class ThreadEvent(Schema):
    id: int
    kind: str = Field(description="note, call_missed, call_answered, assigned, status, contact")
    body: str
    author: str | None
    data: dict[str, Any]


class ThreadItemOut(Schema):
    type: Literal["message", "event"]
    at: dt.datetime
    message: ThreadMessage | None = None
    event: ThreadEvent | None = None


class ConversationDetailOut(ConversationOut):
    thread: list[ThreadItemOut] = Field(description="The latest items, oldest first.")


class ReplyIn(InputSchema):
    body: str
    idempotency_key: str | None = Field(
        None, max_length=100, description="The same key sends the reply once, however often posted."
    )


class AssignIn(InputSchema):
    assignee: int | None = Field(description="A staff member's user id, or null for nobody.")


class StatusIn(InputSchema):
    status: Literal["open", "waiting", "closed"]


class NoteIn(InputSchema):
    body: str = Field(max_length=MAX_NOTE)


class NoteOut(Schema):
    id: int
    kind: str
    body: str
    at: dt.datetime


class WebhookIn(InputSchema):
    url: str = Field(description="https:// (or http://) URL that receives the POSTs.")
    events: list[str] = Field(
        description='Event types, e.g. ["message.received"], a family ["message.*"] or ["*"].'
    )
    active: bool = True


class WebhookOut(Schema):
    id: uuid.UUID
    url: str
    events: list[str]
    active: bool
    created_at: dt.datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="Signs every delivery. Shown this once: keep it.")


class DeliveryOut(Schema):
    id: uuid.UUID
    event_id: uuid.UUID = Field(description="Sent as X-Comptoir-Delivery; the same on retries.")
    event_type: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: dt.datetime | None = Field(description="When it is tried next, if pending.")
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str
    delivered_at: dt.datetime | None
    created_at: dt.datetime
    payload: dict[str, Any]

    @staticmethod
    def resolve_next_attempt_at(obj: Any) -> dt.datetime | None:
        return obj.next_attempt_at if obj.status == "pending" else None
