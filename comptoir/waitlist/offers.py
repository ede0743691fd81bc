"""Offering an opening: to the next matching entry (in order) or to all of them at once, and
moving on when an offer's time is over or it is declined.

Everything here runs with the opening's row locked (`select_for_update`), so a reply that
takes the opening (comptoir.waitlist.replies) and a pass that moves to the next customer
never cross: the pass sees the opening taken and offers nothing more.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from comptoir.messaging.models import Purpose, Status
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.waitlist.models import (
    Offer,
    OfferStatus,
    Opening,
    OpeningMode,
    OpeningStatus,
    WaitlistEntry,
)
from comptoir.waitlist.texts import OFFER_KIND, opening_text

log = logging.getLogger(__name__)
ADVANCE_BATCH = 100


def matching_entries(opening: Opening) -> QuerySet[WaitlistEntry]:
    """The active entries this opening suits, first in line first, not offered it yet.

    An entry with no service (or place) takes any; an opening with none suits every entry.
    The customer whose cancellation freed the slot is not offered it back.
    """
    entries = WaitlistEntry.objects.for_workspace(opening.workspace_id).filter(active=True)
    if opening.service:
        entries = entries.filter(Q(service="") | Q(service__iexact=opening.service))
    if opening.place:
        entries = entries.filter(Q(place="") | Q(place__iexact=opening.place))
    offered = Offer.objects.filter(opening=opening, contact_id=OuterRef("contact_id"))
    entries = entries.filter(~Exists(offered))
    if opening.source_appointment_id is not None and opening.source_appointment is not None:
        entries = entries.exclude(contact_id=opening.source_appointment.contact_id)
    return entries.select_related("contact").order_by("position", "created_at", "id")


def _send(opening: Opening, entries: Sequence[WaitlistEntry], now: dt.datetime) -> list[Offer]:
    """Text the offer to these entries' customers and record one offer each (one contact
    once: a customer on the list twice gets one text)."""
    unique: dict[object, WaitlistEntry] = {}
    for entry in entries:
        unique.setdefault(entry.contact_id, entry)
    chosen = list(unique.values())
    if not chosen:
        return []
    if opening.mode == OpeningMode.IN_ORDER:
        expires = min(now + dt.timedelta(minutes=opening.offer_minutes), opening.starts_at)
    else:
        expires = opening.starts_at
    results = messages_send(
        workspace=opening.workspace,
        requests=[
            SendRequest(
                to=str(entry.contact_id),
                body=opening_text(opening, entry.contact, opening.mode),
                purpose=Purpose.TRANSACTIONAL,  # the customer asked to be on the list
                idempotency_key=f"{OFFER_KIND}:{opening.id}:{entry.contact_id}",
                kind=OFFER_KIND,
            )
            for entry in chosen
        ],
    )
    offers = []
    for entry, result in zip(chosen, results, strict=True):
        message = result.message
        blocked = message.status == Status.BLOCKED
        offers.append(
            Offer(
                workspace_id=opening.workspace_id,
                opening=opening,
                entry=entry,
                contact_id=entry.contact_id,
                message=message,
                sent_at=now,
                expires_at=expires,
                status=OfferStatus.NOT_SENT if blocked else OfferStatus.OFFERED,
                reason=message.error_code if blocked else "",
            )
        )
    Offer.objects.bulk_create(offers)
    return offers


def offers_send(opening: Opening, now: dt.datetime | None = None) -> list[Offer]:
    """Offer an open opening: to everyone matching at once, or to the next in line (and the
    one after when a text cannot go). Call with the opening's row locked."""
    now = now or timezone.now()
    if opening.status != OpeningStatus.OPEN or opening.starts_at <= now:
        return []
    if opening.mode == OpeningMode.ALL_AT_ONCE:
        return _send(opening, list(matching_entries(opening)), now)
    sent: list[Offer] = []
    while True:
        entry = matching_entries(opening).first()
        if entry is None:
            return sent
        offers = _send(opening, [entry], now)
        sent.extend(offers)
        if any(o.status == OfferStatus.OFFERED for o in offers):
            _plan_advance(offers[0].expires_at)
            return sent


def _plan_advance(at: dt.datetime) -> None:
    """Wake a pass when the offer's time is over (the minute tick is the safety net)."""
    from comptoir.waitlist.tasks import waitlist_advance_task

    delay = max((at - timezone.now()).total_seconds(), 0.0) + 0.5
    transaction.on_commit(lambda: waitlist_advance_task.schedule(delay=delay))


def offers_expire(opening: Opening, now: dt.datetime) -> int:
    """Close the offers whose time is over (in order: the customer had their turn)."""
    return Offer.objects.filter(
        opening=opening, status=OfferStatus.OFFERED, expires_at__lte=now
    ).update(status=OfferStatus.EXPIRED, updated_at=now)


def opening_close(opening: Opening, status: str, now: dt.datetime) -> None:
    """An opening no one can take any more (its time came, or the shop cancelled it)."""
    opening.status = status
    opening.closed_at = now
    opening.save(update_fields=["status", "closed_at", "updated_at"])
    Offer.objects.filter(opening=opening, status=OfferStatus.OFFERED).update(
        status=OfferStatus.EXPIRED, updated_at=now
    )


def openings_advance(*, now: dt.datetime | None = None) -> int:
    """One pass over the open openings that need something: close those whose time came,
    and in order, offer to the next customer when nobody holds a live offer. Returns how
    many openings were moved on. Concurrent passes skip each other's rows."""
    now = now or timezone.now()
    live = Offer.objects.filter(
        opening=OuterRef("pk"), status=OfferStatus.OFFERED, expires_at__gt=now
    )
    moved = 0
    with transaction.atomic():
        due = list(
            Opening.objects.filter(status=OpeningStatus.OPEN)
            .filter(Q(starts_at__lte=now) | Q(mode=OpeningMode.IN_ORDER) & ~Exists(live))
            .select_related("workspace", "source_appointment")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("starts_at")[:ADVANCE_BATCH]
        )
        for opening in due:
            if opening.starts_at <= now:
                opening_close(opening, OpeningStatus.EXPIRED, now)
                moved += 1
                continue
            expired = offers_expire(opening, now)
            offers = offers_send(opening, now)
            moved += bool(expired or offers)
    return moved
