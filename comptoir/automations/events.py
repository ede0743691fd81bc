"""Events from the shop's software: who they are about, the appointment they book, move or
cancel, and the runs they set off, in one transaction, once per event id.

An event replayed with the same id (a retry after a timeout) finds the first one and is
answered the same way; nothing is planned or sent twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.automations.firing import runs_fire
from comptoir.automations.models import (
    Appointment,
    AppointmentStatus,
    CustomerEvent,
    RunStatus,
    ScheduledRun,
)
from comptoir.automations.planning import appointment_runs_cancel, runs_plan_for_event
from comptoir.automations.rules import KNOWN_EVENTS
from comptoir.automations.services import customer_event_record
from comptoir.contacts.models import Contact
from comptoir.contacts.services import DuplicateContact, contact_create
from comptoir.core.errors import NotFound, ValidationError
from comptoir.workspaces.models import Workspace

CONTACT_DETAILS = ("first_name", "last_name", "email", "language", "timezone", "birthday")


@dataclass
class ContactRef:
    """Who an event is about: an id, or a phone number (the contact is created if new)."""

    id: uuid.UUID | None = None
    phone: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class EventResult:
    event: CustomerEvent
    created: bool
    custom: bool
    runs: list[ScheduledRun]


def _aware(value: Any, field_name: str) -> dt.datetime:
    """An ISO 8601 time with its zone; without one it is refused, the field named."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(
                _("%(value)r is not a time: write it like 2026-11-24T10:00:00+01:00.")
                % {"value": value},
                field=field_name,
            ) from None
    else:
        raise ValidationError(_("Give the time, like 2026-11-24T10:00:00+01:00."), field=field_name)
    if timezone.is_naive(parsed):
        raise ValidationError(
            _("%(value)r has no time zone: add one, like 2026-11-24T10:00:00+01:00.")
            % {"value": str(value)},
            field=field_name,
        )
    return parsed


def _details_clean(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The contact details an event may fill in, checked (they may reach an existing contact)."""
    details = {k: v for k, v in raw.items() if k in CONTACT_DETAILS and v}
    zone = details.get("timezone")
    if zone and zone not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(value)r is not a time zone (use a name like Europe/Paris).") % {"value": zone},
            field="contact.timezone",
        )
    if details.get("email"):
        try:
            validate_email(details["email"])
        except DjangoValidationError:
            raise ValidationError(
                _("%(value)r is not an email address.") % {"value": details["email"]},
                field="contact.email",
            ) from None
    return details


def event_contact(*, workspace: Workspace, ref: ContactRef | None) -> Contact:
    """The contact an event names; a phone nobody has yet becomes a contact, and blank
    details of a known one are filled in (never overwritten)."""
    if ref is None or (ref.id is None and not ref.phone.strip()):
        raise ValidationError(
            _("Say who the event is about: contact.id or contact.phone."), field="contact"
        )
    if ref.id is not None:
        contact = Contact.objects.for_workspace(workspace).filter(id=ref.id).first()
        if contact is None:
            raise NotFound(_("No contact with id %(id)s.") % {"id": ref.id}, field="contact.id")
        return contact
    details = _details_clean(ref.details)
    try:
        return contact_create(
            workspace=workspace,
            phone=ref.phone,
            first_name=details.get("first_name", ""),
            last_name=details.get("last_name", ""),
            email=details.get("email", ""),
            language=details.get("language", ""),
            timezone_name=details.get("timezone", ""),
            birthday=details.get("birthday"),
        )
    except ValidationError as exc:
        raise ValidationError(exc.message, field=f"contact.{exc.field or 'phone'}") from None
    except DuplicateContact as exc:
        contact = exc.existing
    missing = {k: v for k, v in details.items() if not getattr(contact, k)}
    if missing:
        for name, value in missing.items():
            setattr(contact, name, value)
        # Someone the shop's software knows by name is a customer, not a prospect.
        contact.is_prospect = contact.is_prospect and not (contact.first_name or contact.last_name)
        contact.save(update_fields=[*missing, "is_prospect", "updated_at"])
    return contact


def _appointment(
    workspace: Workspace, contact: Contact, type_: str, event_id: str, data: Mapping[str, Any]
) -> Appointment | None:
    """Book, move or cancel the appointment an appointment.* event is about."""
    external = str(data.get("appointment_id") or "").strip()
    if len(external) > 100:
        raise ValidationError(
            _("An appointment id is at most 100 characters."), field="data.appointment_id"
        )
    if type_ == "appointment.booked":
        external = external or event_id
    elif not external:
        raise ValidationError(
            _("Name the appointment: data.appointment_id, as in the booking event."),
            field="data.appointment_id",
        )
    found = (
        Appointment.objects.for_workspace(workspace)
        .select_for_update()
        .filter(external_id=external)
        .first()
    )
    if type_ == "appointment.cancelled":
        if found is not None:
            found.status = AppointmentStatus.CANCELLED
            found.save(update_fields=["status", "updated_at"])
            appointment_runs_cancel(appointment=found, reason="appointment_cancelled")
        return found
    starts_at = _aware(data.get("starts_at"), "data.starts_at")
    if found is not None and found.contact_id != contact.id:
        raise ValidationError(
            _("Appointment %(id)r belongs to another contact.") % {"id": external},
            field="data.appointment_id",
        )
    appointment = found or Appointment(workspace=workspace, contact=contact, external_id=external)
    appointment.starts_at = starts_at
    appointment.place = str(data.get("place") or appointment.place or "")[:200]
    appointment.service = str(data.get("service") or appointment.service or "")[:200]
    if appointment.status == AppointmentStatus.CANCELLED or found is None:
        appointment.status = AppointmentStatus.BOOKED
    elif type_ == "appointment.updated" and found.starts_at != starts_at:
        appointment.status = AppointmentStatus.BOOKED  # a new time is to be confirmed again
    appointment.save()
    return appointment


def event_receive(
    *,
    workspace: Workspace,
    event_id: str,
    type: str,  # the integrators' name for it
    contact: ContactRef | None,
    data: Mapping[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> EventResult:
    """Record an event and act on it: book/move/cancel its appointment, plan its runs,
    send at once those already due. The same `event_id` again returns the first event."""
    event_id = (event_id or "").strip()
    if not event_id:
        raise ValidationError(
            _("Give the event an id, so that a retry is not a second event."), field="id"
        )
    data = dict(data or {})
    with transaction.atomic():
        who = event_contact(workspace=workspace, ref=contact)
        existing = (
            CustomerEvent.objects.for_workspace(workspace).filter(external_id=event_id).first()
        )
        if existing is not None:
            event, created = customer_event_record(
                workspace=workspace, contact=who, type=type, external_id=event_id, data=data
            )
            return _result(event, created=False)
        appointment = None
        if type.startswith("appointment.") and type in KNOWN_EVENTS:
            appointment = _appointment(workspace, who, type, event_id, data)
        event, created = customer_event_record(
            workspace=workspace,
            contact=who,
            type=type,
            external_id=event_id,
            data=data,
            occurred_at=occurred_at,
        )
        if not created:  # stored meanwhile by a concurrent delivery of the same event
            return _result(event, created=False)
        if appointment is not None:
            event.appointment = appointment
            event.save(update_fields=["appointment", "updated_at"])
        runs_plan_for_event(event=event, contact=who, appointment=appointment)
        now = timezone.now()
        due = list(
            ScheduledRun.objects.filter(event=event, status=RunStatus.PENDING, due_at__lte=now)
            .select_related("rule", "contact", "appointment", "event", "workspace")
            .select_for_update(of=("self",))
        )
        if due:
            runs_fire(due, now=now)
        return _result(event, created=True)


def _result(event: CustomerEvent, *, created: bool) -> EventResult:
    runs = list(
        ScheduledRun.objects.filter(event=event).select_related("rule").order_by("due_at", "id")
    )
    return EventResult(event, created, event.type not in KNOWN_EVENTS, runs)
