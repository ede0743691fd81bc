"""What the REST API takes and gives."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import field_validator


class ErrorDetail(Schema):
    code: str
    field: str | None = None
    message: str


class ErrorOut(Schema):
    error: ErrorDetail
    existing_id: uuid.UUID | None = None


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain the NUL character (\\u0000)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _storable(item)
    elif isinstance(value, list):
        for item in value:
            _storable(item)
    return value


class InputSchema(Schema):
    """What a client sends: text PostgreSQL cannot store is refused here, naming the field."""

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return _storable(value)


# The lengths are the columns' (Contact, Tag): a longer value is a 422, not a database error.
class ContactIn(InputSchema):
    phone: str = Field(description="National (read with the workspace's region) or +E.164.")
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)
    email: str = Field("", max_length=254)
    language: str = Field("", max_length=8, description="e.g. fr")
    timezone: str = Field("", max_length=64, description="IANA name, e.g. Europe/Paris.")
    birthday: dt.date | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    tags: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list)


class ContactOut(Schema):
    id: uuid.UUID
    phone: str
    number_type: str
    first_name: str
    last_name: str
    email: str
    language: str
    timezone: str
    birthday: dt.date | None
    attributes: dict[str, Any]
    tags: list[str]
    is_prospect: bool
    created_at: dt.datetime

    @staticmethod
    def resolve_tags(obj: Any) -> list[str]:
        return sorted(t.name for t in obj.tags.all())


class MessageIn(InputSchema):
    to: str = Field(
        description="A phone number (the contact is created if new) or a contact id; "
        "for an email also the contact's email address."
    )
    body: str
    purpose: str = Field("conversational", description="transactional, conversational or marketing")
    idempotency_key: str | None = Field(None, max_length=200)
    send_at: dt.datetime | None = Field(None, description="With a time zone; default now.")
    channel: uuid.UUID | None = Field(
        None, description="The channel to send on; default: scheme's."
    )
    scheme: Literal["sms", "email"] | None = Field(
        None, description="sms (default) or email: the workspace's default channel of that kind."
    )
    subject: str = Field("", max_length=200, description="Email only; default the shop's name.")


class MessageBatchIn(Schema):
    messages: list[MessageIn] = Field(..., min_length=1, max_length=1000)


class TransitionOut(Schema):
    status: str
    at: dt.datetime
    code: str
    reason: str


class MessageOut(Schema):
    id: uuid.UUID
    to: str = Field(description="The customer's number, or email address for an email.")
    contact_id: uuid.UUID | None
    channel_id: uuid.UUID
    direction: str
    body: str
    subject: str
    purpose: str
    priority: int
    status: str
    send_at: dt.datetime
    idempotency_key: str | None
    encoding: str
    segments: int
    provider_id: str
    error_code: str
    error_reason: str
    attempts: int
    created_at: dt.datetime
    sending_at: dt.datetime | None
    sent_at: dt.datetime | None
    delivered_at: dt.datetime | None
    failed_at: dt.datetime | None

    @staticmethod
    def resolve_to(obj: Any) -> str:
        return str(obj.address)


class Replacement(Schema):
    original: str
    replacement: str
    count: int


class MessageQueuedOut(MessageOut):
    replayed: bool = Field(
        False, description="True when the idempotency key named an existing message."
    )
    replacements: list[Replacement] = Field(
        default_factory=list, description="Look-alike characters swapped to keep the SMS in GSM-7."
    )


class MessageDetailOut(MessageOut):
    history: list[TransitionOut]


# A proof is a small record (the form, the page, the checkbox text), not a document.
MAX_PROOF_CHARS = 10_000


class ConsentIn(InputSchema):
    purpose: Literal["marketing", "service"]
    action: Literal["granted", "revoked"]
    channel: Literal["sms", "voice", "email"] = "sms"
    proof: dict[str, Any] = Field(
        default_factory=dict,
        description="What proves it: the form and its wording, the page, the IP address…",
    )

    @field_validator("proof")
    @classmethod
    def _small_proof(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > MAX_PROOF_CHARS:
            raise ValueError(f"must be at most {MAX_PROOF_CHARS:,} characters as JSON")
        return value


class ConsentOut(Schema):
    id: int
    purpose: str
    channel: str
    action: str
    source: str
    at: dt.datetime
    actor_label: str = Field(description="Who recorded it: a staff user, an API key, the customer.")
    proof: dict[str, Any]
