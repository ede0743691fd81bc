"""The segment endpoints of the REST API: thin over comptoir.segments.

Mounted at /api/v1/ by api.py, which provides authentication (the workspace of the
Bearer key) and turns service errors into `{"error": {code, field, message}}`. A
definition's error names the condition: field "definition.conditions.2.months".
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from comptoir.api.common import request_workspace
from comptoir.api.schemas import ErrorOut, InputSchema
from comptoir.core.errors import ComptoirError, NotFound
from comptoir.segments.models import Segment
from comptoir.segments.query import segment_count
from comptoir.segments.services import segment_create, segment_delete, segment_update

router = Router(tags=["segments"])

DEFINITION_HELP = (
    '{"match": "all" | "any", "conditions": [...]}; each condition has a "kind" '
    "(language, birthday_month, prospect, attribute, tag, interest, bought, "
    "not_bought_since, total_spent, purchase_count, consent) and may be negated with "
    '"not": true; a condition may be a group {"match", "conditions"}, one level deep. '
    "See docs/segments.md."
)


class SegmentIn(InputSchema):
    name: str = Field(max_length=100)
    definition: dict[str, Any] | list[Any] = Field(description=DEFINITION_HELP)


class SegmentUpdateIn(InputSchema):
    name: str | None = Field(None, max_length=100)
    definition: dict[str, Any] | list[Any] | None = Field(None, description=DEFINITION_HELP)


class DefinitionIn(InputSchema):
    definition: dict[str, Any] | list[Any] = Field(description=DEFINITION_HELP)


class SegmentOut(Schema):
    id: uuid.UUID
    name: str
    definition: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime


class CountOut(Schema):
    count: int


def _segment(request: HttpRequest, segment_id: uuid.UUID) -> Segment:
    segment = (
        Segment.objects.for_workspace(request_workspace(request)).filter(id=segment_id).first()
    )
    if segment is None:
        raise NotFound("No such segment.", field="segment_id")
    return segment


def _in_definition(exc: ComptoirError) -> ComptoirError:
    """A definition's error, named from the request body's root ("definition.conditions.0")."""
    if exc.field and exc.field not in ("name", "segment_id"):
        exc.field = f"definition.{exc.field}" if exc.field != "definition" else exc.field
    return exc


@router.get("/segments", response=list[SegmentOut], summary="The workspace's segments, by name")
def list_segments(request: HttpRequest) -> list[Segment]:
    return list(Segment.objects.for_workspace(request_workspace(request)).order_by("name", "id"))


@router.post(
    "/segments",
    response={201: SegmentOut, 409: ErrorOut, 422: ErrorOut},
    summary="Save a segment (its definition is checked; an error names the condition)",
)
def create_segment(request: HttpRequest, payload: SegmentIn) -> Status[Segment]:
    try:
        segment = segment_create(
            workspace=request_workspace(request), name=payload.name, definition=payload.definition
        )
    except ComptoirError as exc:
        raise _in_definition(exc) from None
    return Status(201, segment)


@router.post(
    "/segments/count",
    response={200: CountOut, 422: ErrorOut},
    summary="Count the contacts a definition matches now, without saving it",
)
def count_definition(request: HttpRequest, payload: DefinitionIn) -> dict[str, int]:
    try:
        return {"count": segment_count(payload.definition, request_workspace(request))}
    except ComptoirError as exc:
        raise _in_definition(exc) from None


@router.get("/segments/{segment_id}", response={200: SegmentOut, 404: ErrorOut})
def get_segment(request: HttpRequest, segment_id: uuid.UUID) -> Segment:
    return _segment(request, segment_id)


@router.put(
    "/segments/{segment_id}",
    response={200: SegmentOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Change a segment's name and/or definition (what is left out stays)",
)
def update_segment(
    request: HttpRequest, segment_id: uuid.UUID, payload: SegmentUpdateIn
) -> Segment:
    segment = _segment(request, segment_id)
    try:
        return segment_update(segment=segment, name=payload.name, definition=payload.definition)
    except ComptoirError as exc:
        raise _in_definition(exc) from None


@router.delete(
    "/segments/{segment_id}",
    response={204: None, 404: ErrorOut, 409: ErrorOut},
    summary="Delete a segment (409 while a campaign uses it)",
)
def delete_segment(request: HttpRequest, segment_id: uuid.UUID) -> Status[None]:
    segment_delete(segment=_segment(request, segment_id))
    return Status(204, None)


@router.get(
    "/segments/{segment_id}/count",
    response={200: CountOut, 404: ErrorOut},
    summary="How many contacts the segment holds now",
)
def count_segment(request: HttpRequest, segment_id: uuid.UUID) -> dict[str, int]:
    workspace = request_workspace(request)
    return {"count": segment_count(_segment(request, segment_id), workspace)}
