"""The waitlist page (owners and staff): who waits, add someone, open a freed slot, and
each opening's offers and winner. Thin views over comptoir.waitlist.services."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib import messages as flash
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from comptoir.automations.events import ContactRef, event_contact
from comptoir.automations.models import Appointment, AppointmentStatus
from comptoir.core.errors import ComptoirError, NotFound, ValidationError
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
)
from comptoir.web.views import staff_view
from comptoir.workspaces.models import Workspace

SHOWN = 200


def _failed(request: HttpRequest, exc: ComptoirError) -> None:
    where = f" ({exc.field})" if exc.field else ""
    flash.error(request, f"{exc.message}{where}")


@staff_view
def index(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    now = timezone.now()
    entries = (
        WaitlistEntry.objects.for_workspace(workspace)
        .filter(active=True)
        .select_related("contact")
        .order_by("position", "created_at", "id")[:SHOWN]
    )
    cancelled = (
        Appointment.objects.for_workspace(workspace)
        .filter(status=AppointmentStatus.CANCELLED, starts_at__gt=now)
        .select_related("contact")
        .order_by("starts_at")[:20]
    )
    openings = (
        Opening.objects.for_workspace(workspace)
        .select_related("winner")
        .prefetch_related(offers_prefetch())
        .order_by("-created_at")[:20]
    )
    context = {
        "entries": entries,
        "cancelled": cancelled,
        "openings": openings,
        "modes": OpeningMode.choices,
        "tz": workspace.timezone,
    }
    return render(request, "waitlist/index.html", context)


@staff_view
@require_POST
def entry_new(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    post = request.POST
    try:
        contact = event_contact(
            workspace=workspace,
            ref=ContactRef(
                phone=post.get("phone", ""), details={"first_name": post.get("first_name", "")}
            ),
        )
        entry_add(
            workspace=workspace,
            contact=contact,
            service=post.get("service", ""),
            place=post.get("place", ""),
            note=post.get("note", ""),
        )
    except ComptoirError as exc:
        _failed(request, exc)
    else:
        flash.success(request, _("%(name)s is on the list.") % {"name": contact.display_name})
    return redirect("waitlist:index")


@staff_view
@require_POST
def entry_off(request: HttpRequest, workspace: Workspace, entry_id: Any) -> HttpResponse:
    try:
        entry = entry_get(workspace=workspace, entry_id=entry_id)
    except NotFound:
        raise Http404(_("Not found in this workspace.")) from None
    if request.POST.get("delete") == "1":
        entry_remove(entry=entry)
    else:
        entry_update(entry=entry, active=False)
    return redirect("waitlist:index")


def _local(value: str, workspace: Workspace) -> dt.datetime | str:
    """A datetime-local field, read in the shop's time zone."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return value  # the service names the field
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=workspace.tz)


@staff_view
@require_POST
def opening_new(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    post = request.POST
    try:
        minutes = post.get("offer_minutes", "15").strip() or "15"
        if not minutes.isdigit():
            raise ValidationError(_("A number of minutes."), field="offer_minutes")
        appointment = post.get("appointment_id", "").strip()
        opening = opening_create(
            workspace=workspace,
            starts_at=_local(post["starts_at"], workspace) if post.get("starts_at") else None,
            place=post.get("place") if not appointment else None,
            service=post.get("service") if not appointment else None,
            mode=post.get("mode", OpeningMode.IN_ORDER),
            offer_minutes=int(minutes),
            template=post.get("template", ""),
            appointment_id=_uuid_or_text(appointment) if appointment else None,
        )
    except ComptoirError as exc:
        _failed(request, exc)
        return redirect("waitlist:index")
    sent = opening.offers.exclude(status="not_sent").count()
    flash.success(request, _("Slot opened: %(n)d offer(s) sent.") % {"n": sent})
    return redirect("waitlist:opening", opening_id=opening.id)


def _uuid_or_text(value: str) -> Any:
    try:
        return uuid.UUID(value)
    except ValueError:
        return value


@staff_view
def opening_page(request: HttpRequest, workspace: Workspace, opening_id: Any) -> HttpResponse:
    try:
        opening = opening_get(workspace=workspace, opening_id=opening_id)
    except NotFound:
        raise Http404(_("Not found in this workspace.")) from None
    return render(request, "waitlist/opening.html", {"opening": opening, "tz": workspace.timezone})


@staff_view
@require_POST
def opening_cancel_view(
    request: HttpRequest, workspace: Workspace, opening_id: Any
) -> HttpResponse:
    try:
        opening_cancel(workspace=workspace, opening_id=opening_id)
    except ComptoirError as exc:
        _failed(request, exc)
    return redirect("waitlist:opening", opening_id=opening_id)
