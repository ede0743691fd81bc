"""The events endpoint of the REST API (and, mounted beside it, the rules endpoints).

Thin over comptoir.automations.events: the shop's software reports a booking, an order
ready, a purchase…; Comptoir books the appointment, plans the rules' messages and
sends those already due. Mounted at /api/v1/ by api.py (authentication, error shape).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from comptoir.api.common import request_workspace
from comptoir.api.rules import router as rules_router
from comptoir.api.schemas import ErrorOut, InputSchema
from comptoir.automations.events import ContactRef, EventResult, event_receive

router = Router(tags=["events"])
router.add_router("/", rules_router)


class EventContactIn(InputSchema):
    id: uuid.UUID | None = Field(None, description="A contact's id, or else:")
    phone: str = Field("", max_length=40, description="A number; a new one becomes a contact.")
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)
    email: str = Field("", max_length=254)
    language: str = Field("", max_length=8)
    timezone: str = Field("", max_length=64)
    birthday: dt.date | None = None


class EventIn(InputSchema):
    id: str = Field(
        min_length=1,
        max_length=100,
        description="Your id for the event: the same id again is the same event (a retry).",
    )
    type: str = Field(
        max_length=64,
        description="appointment.booked|updated|cancelled, order.ready|confirmed|shipped, "
        "purchase.completed, contact.signed_up, or your own (stored, usable by rules).",
    )
    contact: EventContactIn | None = None
    occurred_at: dt.datetime | None = Field(None, description="With its zone; default: now.")
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="appointment.*: appointment_id, starts_at (with zone), place, service; "
        "order.* and purchase.*: order_number, amount, place.",
    )


class RunOut(Schema):
    id: uuid.UUID
    rule: str
    rule_name: str
    due_at: dt.datetime
    status: str
    reason: str
    message_id: uuid.UUID | None


class EventOut(Schema):
    id: uuid.UUID
    event_id: str
    type: str
    custom: bool
    contact_id: uuid.UUID
    appointment_id: uuid.UUID | None
    appointment_status: str | None
    runs: list[RunOut]


def _out(result: EventResult) -> dict[str, Any]:
    event = result.event
    appointment = event.appointment
    return {
        "id": event.id,
        "event_id": event.external_id,
        "type": event.type,
        "custom": result.custom,
        "contact_id": event.contact_id,
        "appointment_id": appointment.id if appointment is not None else None,
        "appointment_status": appointment.status if appointment is not None else None,
        "runs": [
            {
                "id": run.id,
                "rule": run.rule.key or str(run.rule.id),
                "rule_name": run.rule.name,
                "due_at": run.due_at,
                "status": run.status,
                "reason": run.reason,
                "message_id": run.message_id,
            }
            for run in result.runs
        ],
    }


@router.post(
    "/events",
    response={202: EventOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Report an event (same id again: the same event and the same answer)",
)
def post_event(
    request: HttpRequest, response: HttpResponse, payload: EventIn
) -> Status[dict[str, Any]]:
    contact = None
    if payload.contact is not None:
        fields = payload.contact.dict(exclude={"id", "phone"})
        contact = ContactRef(id=payload.contact.id, phone=payload.contact.phone, details=fields)
    result = event_receive(
        workspace=request_workspace(request),
        event_id=payload.id,
        type=payload.type,
        contact=contact,
        data=payload.data,
        occurred_at=payload.occurred_at,
    )
    if not result.created:
        response["Idempotent-Replayed"] = "true"
    return Status(202, _out(result))
