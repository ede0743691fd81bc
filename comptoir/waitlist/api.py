"""The waitlist endpoints of the REST API: entries (CRUD) and openings with their offers.

Thin over comptoir.waitlist.services; mounted at /api/v1/ by comptoir.api.api
(authentication, error shape).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from comptoir.api.common import request_workspace
from comptoir.api.schemas import ErrorOut, InputSchema
from comptoir.automations.events import ContactRef, event_contact
from comptoir.waitlist.models import Opening, OpeningMode, WaitlistEntry
from comptoir.waitlist.services import (
    entry_add,
    entry_get,
    entry_remove,
    entry_update,
    offers_prefetch,
    opening_cancel,
    opening_create,
    opening_get,
    opening_offers,
)

router = Router(tags=["waitlist"])


class EntryContactIn(InputSchema):
    id: uuid.UUID | None = Field(None, description="A contact's id, or else:")
    phone: str = Field("", max_length=40, description="A number; a new one becomes a contact.")
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)
    language: str = Field("", max_length=8)


class EntryIn(InputSchema):
    contact: EntryContactIn | None = None
    service: str = Field("", max_length=200, description="What they wait for; blank: any.")
    place: str = Field("", max_length=200, description="Which shop; blank: any.")
    note: str = Field("", max_length=500)
    position: int | None = Field(None, description="Smaller first; default: the end.")


class EntryPatch(InputSchema):
    active: bool | None = None
    service: str | None = Field(None, max_length=200)
    place: str | None = Field(None, max_length=200)
    note: str | None = Field(None, max_length=500)
    position: int | None = None


class EntryOut(Schema):
    id: uuid.UUID
    contact_id: uuid.UUID
    contact_name: str
    service: str
    place: str
    position: int
    active: bool
    note: str
    created_at: dt.datetime


class OpeningIn(InputSchema):
    starts_at: dt.datetime | None = Field(
        None, description="With its zone; default: the cancelled appointment's time."
    )
    appointment_id: str | None = Field(
        None,
        max_length=100,
        description="A cancelled appointment (our id or your booking software's) that freed it.",
    )
    duration_minutes: int | None = None
    place: str | None = Field(None, max_length=200)
    service: str | None = Field(None, max_length=200)
    mode: str = Field(OpeningMode.IN_ORDER, description="in_order or all_at_once")
    offer_minutes: int = Field(15, description="In order: how long each customer has.")
    template: str = Field("", max_length=640, description="Your own offer text (optional).")


class OfferOut(Schema):
    id: uuid.UUID
    contact_id: uuid.UUID
    contact_name: str
    entry_id: uuid.UUID | None
    message_id: uuid.UUID | None
    body: str
    sent_at: dt.datetime
    expires_at: dt.datetime
    status: str
    reason: str
    answered_at: dt.datetime | None


class OpeningOut(Schema):
    id: uuid.UUID
    starts_at: dt.datetime
    duration_minutes: int | None
    place: str
    service: str
    mode: str
    offer_minutes: int
    status: str
    winner_id: uuid.UUID | None
    taken_at: dt.datetime | None
    appointment_id: uuid.UUID | None
    source_appointment_id: uuid.UUID | None
    offers: list[OfferOut]


def _entry_out(entry: WaitlistEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "contact_id": entry.contact_id,
        "contact_name": entry.contact.display_name,
        "service": entry.service,
        "place": entry.place,
        "position": entry.position,
        "active": entry.active,
        "note": entry.note,
        "created_at": entry.created_at,
    }


def _opening_out(opening: Opening) -> dict[str, Any]:
    offers = [
        {
            "id": o.id,
            "contact_id": o.contact_id,
            "contact_name": o.contact.display_name,
            "entry_id": o.entry_id,
            "message_id": o.message_id,
            "body": o.message.body if o.message is not None else "",
            "sent_at": o.sent_at,
            "expires_at": o.expires_at,
            "status": o.status,
            "reason": o.reason,
            "answered_at": o.answered_at,
        }
        for o in opening_offers(opening)
    ]
    fields = ("id", "starts_at", "duration_minutes", "place", "service", "mode")
    out = {name: getattr(opening, name) for name in fields}
    out.update(
        offer_minutes=opening.offer_minutes,
        status=opening.status,
        winner_id=opening.winner_id,
        taken_at=opening.taken_at,
        appointment_id=opening.appointment_id,
        source_appointment_id=opening.source_appointment_id,
        offers=offers,
    )
    return out


@router.get("/waitlist", response=list[EntryOut], summary="The waitlist, first in line first")
def list_entries(
    request: HttpRequest,
    active: bool | None = True,
    limit: int = Query(200, ge=1, le=1000),
) -> list[dict[str, Any]]:
    entries = WaitlistEntry.objects.for_workspace(request_workspace(request)).select_related(
        "contact"
    )
    if active is not None:
        entries = entries.filter(active=active)
    return [_entry_out(e) for e in entries.order_by("position", "created_at", "id")[:limit]]


@router.post(
    "/waitlist",
    response={201: EntryOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Put a customer on the waitlist (by contact id, or a phone number)",
)
def add_entry(request: HttpRequest, payload: EntryIn) -> Status[dict[str, Any]]:
    workspace = request_workspace(request)
    ref = None
    if payload.contact is not None:
        details = payload.contact.dict(exclude={"id", "phone"})
        ref = ContactRef(id=payload.contact.id, phone=payload.contact.phone, details=details)
    entry = entry_add(
        workspace=workspace,
        contact=event_contact(workspace=workspace, ref=ref),
        service=payload.service,
        place=payload.place,
        note=payload.note,
        position=payload.position,
    )
    return Status(201, _entry_out(entry))


@router.get("/waitlist/{entry_id}", response={200: EntryOut, 404: ErrorOut})
def get_entry(request: HttpRequest, entry_id: uuid.UUID) -> dict[str, Any]:
    return _entry_out(entry_get(workspace=request_workspace(request), entry_id=entry_id))


@router.patch(
    "/waitlist/{entry_id}",
    response={200: EntryOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Change an entry (active, service, place, note, position)",
)
def patch_entry(request: HttpRequest, entry_id: uuid.UUID, payload: EntryPatch) -> dict[str, Any]:
    entry = entry_get(workspace=request_workspace(request), entry_id=entry_id)
    changes = payload.dict(exclude_unset=True)
    return _entry_out(entry_update(entry=entry, **changes))


@router.delete("/waitlist/{entry_id}", response={204: None, 404: ErrorOut})
def delete_entry(request: HttpRequest, entry_id: uuid.UUID) -> Status[None]:
    entry_remove(entry=entry_get(workspace=request_workspace(request), entry_id=entry_id))
    return Status(204, None)


@router.post(
    "/openings",
    response={201: OpeningOut, 404: ErrorOut, 422: ErrorOut},
    summary="Open a freed slot: offered at once to the waitlist (in order or all at once)",
)
def post_opening(request: HttpRequest, payload: OpeningIn) -> Status[dict[str, Any]]:
    workspace = request_workspace(request)
    appointment_id: Any = payload.appointment_id
    with contextlib.suppress(ValueError):  # else the booking software's own id
        appointment_id = uuid.UUID(appointment_id) if appointment_id else appointment_id
    opening = opening_create(
        workspace=workspace,
        starts_at=payload.starts_at,
        place=payload.place,
        service=payload.service,
        mode=payload.mode,
        offer_minutes=payload.offer_minutes,
        duration_minutes=payload.duration_minutes,
        template=payload.template,
        appointment_id=appointment_id,
    )
    return Status(201, _opening_out(opening_get(workspace=workspace, opening_id=opening.id)))


@router.get("/openings", response=list[OpeningOut], summary="Recent openings, newest first")
def list_openings(
    request: HttpRequest, limit: int = Query(20, ge=1, le=100)
) -> list[dict[str, Any]]:
    openings = (
        Opening.objects.for_workspace(request_workspace(request))
        .prefetch_related(offers_prefetch())
        .order_by("-created_at")
    )
    return [_opening_out(o) for o in openings[:limit]]


@router.get("/openings/{opening_id}", response={200: OpeningOut, 404: ErrorOut})
def get_opening(request: HttpRequest, opening_id: uuid.UUID) -> dict[str, Any]:
    return _opening_out(opening_get(workspace=request_workspace(request), opening_id=opening_id))


@router.post(
    "/openings/{opening_id}/cancel",
    response={200: OpeningOut, 404: ErrorOut, 409: ErrorOut},
    summary="Take an open slot back: no more offers",
)
def cancel_opening(request: HttpRequest, opening_id: uuid.UUID) -> dict[str, Any]:
    workspace = request_workspace(request)
    opening_cancel(workspace=workspace, opening_id=opening_id)
    return _opening_out(opening_get(workspace=workspace, opening_id=opening_id))
