"""The REST API, /api/v1/: thin, every endpoint calls a service or a query set."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Query, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer

from comptoir.api.common import actor_label, request_workspace
from comptoir.api.inbox import router as inbox_router
from comptoir.api.schemas import (
    ConsentIn,
    ConsentOut,
    ContactIn,
    ContactOut,
    ErrorOut,
    MessageBatchIn,
    MessageDetailOut,
    MessageIn,
    MessageQueuedOut,
)
from comptoir.compliance.consent import consent_record
from comptoir.compliance.export import contact_export
from comptoir.compliance.gdpr import consent_history, contact_erase, contact_get
from comptoir.compliance.models import ConsentSource
from comptoir.contacts.models import Contact
from comptoir.contacts.phones import parse_phone
from comptoir.contacts.services import DuplicateContact, contact_create
from comptoir.core.errors import ComptoirError, NotFound
from comptoir.messaging.models import Message
from comptoir.messaging.outbox import Enqueued, SendRequest, messages_send
from comptoir.workspaces.models import Workspace
from comptoir.workspaces.services import api_key_authenticate


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Workspace | None:
        key = api_key_authenticate(token)
        request.api_key = key  # type: ignore[attr-defined]  # who acted, for the audit log
        return key.workspace if key is not None else None


api = NinjaAPI(
    title="Comptoir API",
    version="1",
    description=(
        "Contacts and messages for one workspace. Authenticate with "
        '`Authorization: Bearer <api key>`. Errors are `{"error": {code, field, message}}`.'
    ),
    auth=ApiKeyAuth(),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _error(
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    **extra: Any,
) -> HttpResponse:
    body = {"error": {"code": code, "field": field, "message": message}, **extra}
    return api.create_response(request, body, status=status)


@api.exception_handler(ComptoirError)
def on_comptoir_error(request: HttpRequest, exc: ComptoirError) -> HttpResponse:
    extra = {"existing_id": str(exc.existing.id)} if isinstance(exc, DuplicateContact) else {}
    return _error(request, exc.status, exc.code, exc.message, exc.field, **extra)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = []
    for item in exc.errors:
        loc = [str(p) for p in item.get("loc", ())]
        # Drop where ninja read it from ("body" and the parameter's name, "query", "path"),
        # but only in front: a field may itself be called "body".
        if loc[:2] == ["body", "payload"]:
            loc = loc[2:]
        elif loc[:1] in (["body"], ["query"], ["path"]):
            loc = loc[1:]
        errors.append({"field": ".".join(loc) or None, "message": item.get("msg", "invalid")})
    first = errors[0] if errors else {"field": None, "message": "invalid request"}
    if request.body and request.content_type != "application/json" and request.method == "POST":
        return _unsupported_media_type(request)
    return _error(request, 422, "invalid", str(first["message"]), first["field"], errors=errors)


def _unsupported_media_type(request: HttpRequest) -> HttpResponse:
    return _error(
        request,
        415,
        "unsupported_media_type",
        f"Send JSON with Content-Type: application/json, not {request.content_type!r}.",
    )


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # Ninja refuses a body it cannot parse with a bare 400; say why, in our error shape.
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        if request.content_type != "application/json":
            return _unsupported_media_type(request)
        return _error(
            request, 400, "malformed_json", f"The body is not valid JSON: {exc.__cause__}."
        )
    return _error(request, exc.status_code, "error", exc.message)


@api.exception_handler(RequestDataTooBig)
def on_too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _error(
        request,
        413,
        "too_large",
        f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes; "
        "send fewer messages per batch.",
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(
        request, 401, "unauthorized", "A valid API key is required: Authorization: Bearer <key>."
    )


@api.post(
    "/contacts",
    response={201: ContactOut, 409: ErrorOut, 422: ErrorOut},
    summary="Create a contact (409 with existing_id when the number exists)",
)
def create_contact(request: HttpRequest, payload: ContactIn) -> Status[Contact]:
    contact = contact_create(
        workspace=request_workspace(request),
        phone=payload.phone,
        first_name=payload.first_name,
        last_name=payload.last_name,
        email=payload.email,
        language=payload.language,
        timezone_name=payload.timezone,
        birthday=payload.birthday,
        attributes=payload.attributes,
        tags=payload.tags,
    )
    return Status(201, contact)


@api.get("/contacts", response=list[ContactOut], summary="Find contacts (by phone)")
def list_contacts(
    request: HttpRequest, phone: str | None = None, limit: int = Query(50, ge=1, le=500)
) -> list[Contact]:
    workspace = request_workspace(request)
    contacts = Contact.objects.for_workspace(workspace).prefetch_related("tags")
    if phone:
        contacts = contacts.filter(phone=parse_phone(phone, region=workspace.region).e164)
    return list(contacts.order_by("-created_at")[:limit])


@api.get("/contacts/{contact_id}", response={200: ContactOut, 404: ErrorOut})
def get_contact(request: HttpRequest, contact_id: uuid.UUID) -> Contact:
    contact = (
        Contact.objects.for_workspace(request_workspace(request)).filter(id=contact_id).first()
    )
    if contact is None:
        raise NotFound("No such contact.", field="contact_id")
    return contact


@api.get(
    "/contacts/{contact_id}/export",
    response={404: ErrorOut},
    summary="Everything held on a contact, as a zip (contact.json and CSV files)",
    openapi_extra={
        "responses": {
            200: {
                "description": "A zip: contact.json, messages.csv, purchases.csv, "
                "appointments.csv, consent.csv.",
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def export_contact(request: HttpRequest, contact_id: uuid.UUID) -> HttpResponse:
    archive = contact_export(
        workspace=request_workspace(request),
        contact_id=contact_id,
        actor_label=actor_label(request),
    )
    response = HttpResponse(archive, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="contact-{contact_id}.zip"'
    return response


@api.delete(
    "/contacts/{contact_id}",
    response={204: None, 404: ErrorOut},
    summary="Erase a contact and all their data; only a hash of the number stays (suppression)",
)
def erase_contact(request: HttpRequest, contact_id: uuid.UUID) -> Status[None]:
    contact_erase(
        workspace=request_workspace(request),
        contact_id=contact_id,
        actor_label=actor_label(request),
    )
    return Status(204, None)


@api.post(
    "/contacts/{contact_id}/consent",
    response={201: ConsentOut, 404: ErrorOut, 422: ErrorOut},
    summary="Record a consent event (granted or revoked); history is never overwritten",
)
def record_consent(request: HttpRequest, contact_id: uuid.UUID, payload: ConsentIn) -> Status[Any]:
    contact = contact_get(workspace=request_workspace(request), contact_id=contact_id)
    label = actor_label(request)
    [event] = consent_record(
        contact=contact,
        purposes=[payload.purpose],
        action=payload.action,
        source=ConsentSource.API,
        proof=payload.proof,
        channel=payload.channel,
        actor_label=label,
    )
    event.actor_label = label  # type: ignore[attr-defined]
    return Status(201, event)


@api.get(
    "/contacts/{contact_id}/consent",
    response={200: list[ConsentOut], 404: ErrorOut},
    summary="A contact's consent history, oldest first",
)
def list_consent(request: HttpRequest, contact_id: uuid.UUID) -> list[Any]:
    contact = contact_get(workspace=request_workspace(request), contact_id=contact_id)
    return consent_history(contact=contact)


def _queued(result: Enqueued) -> Message:
    message = result.message
    message.replayed = not result.created  # type: ignore[attr-defined]
    message.replacements = [  # type: ignore[attr-defined]
        {"original": o, "replacement": r, "count": c} for o, r, c in result.replacements
    ]
    return message


def _request(item: MessageIn) -> SendRequest:
    return SendRequest(
        item.to,
        item.body,
        item.purpose,
        item.idempotency_key,
        item.send_at,
        channel=str(item.channel) if item.channel else None,
        scheme=item.scheme or "",
        subject=item.subject,
    )


@api.post(
    "/messages",
    response={202: MessageQueuedOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Queue a message (same idempotency key: the same message, never a second send)",
)
def send_message(request: HttpRequest, payload: MessageIn) -> Status[Message]:
    result = messages_send(workspace=request_workspace(request), requests=[_request(payload)])[0]
    return Status(202, _queued(result))


@api.post(
    "/messages/batch",
    response={202: list[MessageQueuedOut], 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Queue up to 1,000 messages at once (all or none)",
)
def send_messages(request: HttpRequest, payload: MessageBatchIn) -> Status[list[Message]]:
    results = messages_send(
        workspace=request_workspace(request),
        requests=[_request(m) for m in payload.messages],
        field_prefix="messages.",
    )
    return Status(202, [_queued(r) for r in results])


@api.get(
    "/messages/{message_id}",
    response={200: MessageDetailOut, 404: ErrorOut},
    summary="A message's current status and its history",
)
def get_message(request: HttpRequest, message_id: uuid.UUID) -> Message:
    message = (
        Message.objects.for_workspace(request_workspace(request))
        .filter(id=message_id)
        .prefetch_related("transitions")
        .first()
    )
    if message is None:
        raise NotFound("No such message.", field="message_id")
    message.history = sorted(  # type: ignore[attr-defined]
        message.transitions.all(), key=lambda t: (t.at, t.id)
    )
    return message


api.add_router("/", inbox_router)
api.add_router("/", "comptoir.api.compliance.router")
api.add_router("/", "comptoir.api.segments.router")
api.add_router("/", "comptoir.api.events.router")
api.add_router("/", "comptoir.api.campaigns.router")
api.add_router("/", "comptoir.alerts.api.router")
api.add_router("/", "comptoir.surveys.api.router")
api.add_router("/", "comptoir.waitlist.api.router")
