"""Writes on the waitlist: entries (who waits for what) and openings (a freed slot offered).

Every function takes the workspace and only touches its rows. Bad input is refused with
the field named, before anything is written.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Max, Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.automations.models import Appointment, AppointmentStatus
from comptoir.contacts.models import Contact
from comptoir.core.errors import Conflict, NotFound, ValidationError
from comptoir.waitlist.models import (
    Offer,
    Opening,
    OpeningMode,
    OpeningStatus,
    WaitlistEntry,
)
from comptoir.waitlist.offers import offers_send, opening_close
from comptoir.waitlist.texts import template_clean
from comptoir.workspaces.models import Workspace

MAX_TEXT = 200
MAX_NOTE = 500
MAX_OFFER_MINUTES = 24 * 60


def _text(value: Any, field: str, longest: int = MAX_TEXT) -> str:
    text = str(value or "").strip()
    if len(text) > longest:
        raise ValidationError(_("At most %(max)d characters.") % {"max": longest}, field=field)
    return text


def entry_get(*, workspace: Workspace | Any, entry_id: Any) -> WaitlistEntry:
    entry = (
        WaitlistEntry.objects.for_workspace(workspace)
        .filter(id=entry_id)
        .select_related("contact")
        .first()
    )
    if entry is None:
        raise NotFound(_("No such waitlist entry."), field="entry_id")
    return entry


def _duplicate_check(entry: WaitlistEntry) -> None:
    others = WaitlistEntry.objects.for_workspace(entry.workspace_id).filter(
        contact_id=entry.contact_id, service=entry.service, place=entry.place, active=True
    )
    if entry.active and others.exclude(id=entry.id).exists():
        raise Conflict(
            _("This customer is already waiting for this service and place."),
            field="contact",
            code="already_waiting",
        )


def entry_add(
    *,
    workspace: Workspace,
    contact: Contact,
    service: str = "",
    place: str = "",
    note: str = "",
    position: int | None = None,
) -> WaitlistEntry:
    """Put a customer on the waitlist (at the end unless a position is given)."""
    if contact.workspace_id != workspace.id:
        raise ValidationError(_("This customer is not in this workspace."), field="contact")
    entry = WaitlistEntry(
        workspace=workspace,
        contact=contact,
        service=_text(service, "service"),
        place=_text(place, "place"),
        note=_text(note, "note", MAX_NOTE),
    )
    with transaction.atomic():
        if position is None:
            last = WaitlistEntry.objects.for_workspace(workspace).aggregate(m=Max("position"))
            position = (last["m"] or 0) + 1
        entry.position = _position(position)
        _duplicate_check(entry)
        entry.save()
    return entry


def _position(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
        raise ValidationError(_("A position is a number from 1."), field="position")
    return value


def entry_update(*, entry: WaitlistEntry, **changes: Any) -> WaitlistEntry:
    """Change an entry: `active`, `service`, `place`, `note`, `position`."""
    unknown = set(changes) - {"active", "service", "place", "note", "position"}
    if unknown:
        raise ValidationError(_("Unknown field."), field=sorted(unknown)[0])
    for name in ("service", "place"):
        if name in changes:
            setattr(entry, name, _text(changes[name], name))
    if "note" in changes:
        entry.note = _text(changes["note"], "note", MAX_NOTE)
    if "position" in changes:
        entry.position = _position(changes["position"])
    if "active" in changes:
        entry.active = bool(changes["active"])
    with transaction.atomic():
        _duplicate_check(entry)
        entry.save()
    return entry


def entry_remove(*, entry: WaitlistEntry) -> None:
    """Take someone off the list (their past offers stay, for the record)."""
    entry.delete()


def _aware(value: Any, field: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(
                _("%(value)r is not a time: write it like 2026-11-24T10:00:00+01:00.")
                % {"value": value},
                field=field,
            ) from None
    if not isinstance(value, dt.datetime):
        raise ValidationError(_("Give the time, like 2026-11-24T10:00:00+01:00."), field=field)
    if timezone.is_naive(value):
        raise ValidationError(
            _("%(value)s has no time zone: add one, like 2026-11-24T10:00:00+01:00.")
            % {"value": value.isoformat()},
            field=field,
        )
    return value


def _source(workspace: Workspace, appointment_id: Any) -> Appointment:
    found = None
    if isinstance(appointment_id, uuid.UUID):
        found = Appointment.objects.for_workspace(workspace).filter(id=appointment_id).first()
    if found is None:  # the booking software's own id
        found = (
            Appointment.objects.for_workspace(workspace)
            .filter(external_id=str(appointment_id))
            .first()
        )
    if found is None:
        raise NotFound(_("No such appointment."), field="appointment_id")
    if found.status != AppointmentStatus.CANCELLED:
        raise ValidationError(
            _("Only a cancelled appointment frees its slot; this one is %(status)s.")
            % {"status": found.get_status_display()},
            field="appointment_id",
        )
    return found


def opening_create(
    *,
    workspace: Workspace,
    starts_at: Any = None,
    place: str | None = None,
    service: str | None = None,
    mode: str = OpeningMode.IN_ORDER,
    offer_minutes: int = 15,
    duration_minutes: int | None = None,
    template: str = "",
    appointment_id: Any = None,
) -> Opening:
    """Open a freed slot and offer it at once: to the first in line (in order) or to every
    matching customer (all at once). From a cancelled appointment, its time, place and
    service are the defaults, and its customer is not offered the slot back."""
    source = _source(workspace, appointment_id) if appointment_id not in (None, "") else None
    if starts_at is None and source is not None:
        starts_at = source.starts_at
    when = _aware(starts_at, "starts_at")
    now = timezone.now()
    if when <= now:
        raise ValidationError(
            _("%(at)s is in the past: an opening is a slot still to come.")
            % {"at": when.isoformat()},
            field="starts_at",
        )
    if mode not in OpeningMode.values:
        raise ValidationError(
            _("Choose %(modes)s.") % {"modes": " or ".join(OpeningMode.values)}, field="mode"
        )
    if isinstance(offer_minutes, bool) or not isinstance(offer_minutes, int):
        raise ValidationError(_("A number of minutes."), field="offer_minutes")
    if not 1 <= offer_minutes <= MAX_OFFER_MINUTES:
        raise ValidationError(
            _("From 1 to %(max)d minutes.") % {"max": MAX_OFFER_MINUTES}, field="offer_minutes"
        )
    if duration_minutes is not None and not 1 <= duration_minutes <= MAX_OFFER_MINUTES:
        raise ValidationError(
            _("From 1 to %(max)d minutes.") % {"max": MAX_OFFER_MINUTES},
            field="duration_minutes",
        )
    opening = Opening(
        workspace=workspace,
        starts_at=when,
        place=_text(place if place is not None else (source.place if source else ""), "place"),
        service=_text(
            service if service is not None else (source.service if source else ""), "service"
        ),
        mode=mode,
        offer_minutes=offer_minutes,
        duration_minutes=duration_minutes,
        template=template_clean(template),
        source_appointment=source,
    )
    with transaction.atomic():
        opening.save()
        offers_send(opening, now)
    return opening


def opening_get(*, workspace: Workspace | Any, opening_id: Any) -> Opening:
    opening = (
        Opening.objects.for_workspace(workspace)
        .filter(id=opening_id)
        .select_related("winner", "appointment", "source_appointment", "workspace")
        .prefetch_related(offers_prefetch())
        .first()
    )
    if opening is None:
        raise NotFound(_("No such opening."), field="opening_id")
    return opening


def opening_cancel(*, workspace: Workspace | Any, opening_id: Any) -> Opening:
    """The shop takes the slot back: no more offers; a late OUI is told it is gone."""
    with transaction.atomic():
        opening = opening_get(workspace=workspace, opening_id=opening_id)
        locked = Opening.objects.select_for_update().get(id=opening.id)
        if locked.status != OpeningStatus.OPEN:
            raise Conflict(
                _("This opening is already %(status)s.") % {"status": locked.get_status_display()},
                field="status",
                code="opening_closed",
            )
        opening_close(opening, OpeningStatus.CANCELLED, timezone.now())
    return opening


def offers_prefetch() -> Prefetch:
    """Openings' offers with their customers and texts, in the order they went."""
    offers = Offer.objects.select_related("contact", "message").order_by(
        "sent_at", "entry__position", "id"
    )
    return Prefetch("offers", queryset=offers)


def opening_offers(opening: Opening) -> list[Offer]:
    """An opening's offers (prefetched with `offers_prefetch` by the callers that list)."""
    return list(opening.offers.all())
