"""Replies to waitlist offers: the first OUI takes the opening, later ones are told it is
taken, NON passes it on. An inbound step, in the storing transaction.

Where it runs: after the compliance keywords (STOP opts out and is never an acceptance)
and after the appointment answers (a message either step handled has a kind and is left
alone), before the inbox files the messages. Only customers with an offer sent in the
last REPLY_WINDOW are concerned, and for each, their most recent offer is the one
answered, unless another question was texted to them after it (a survey, a profiling
question, any kind registered in comptoir.messaging.awaiting): the most recent question
wins, and a reply that may answer it is left to its step or the inbox. Anything that is
not clearly yes or no goes to the inbox as usual.

Exactly one winner: the opening moves open → taken in one conditional UPDATE
(`WHERE status = 'open'`). Replies in the same batch are taken in order; replies stored
at the same moment by two workers meet on that row: on PostgreSQL the second UPDATE
waits for the first transaction and then finds the opening taken (0 rows); on SQLite the
storing transactions do not overlap at all. The database also holds at most one `won`
offer per opening.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from comptoir.automations.events import ContactRef, event_receive
from comptoir.automations.models import RunStatus, TriggerType
from comptoir.compliance.keywords import normalize
from comptoir.messaging.awaiting import awaiting_filter, questions_latest
from comptoir.messaging.models import Message, Purpose
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.waitlist.models import Offer, OfferStatus, Opening, OpeningMode, OpeningStatus
from comptoir.waitlist.offers import offers_send
from comptoir.waitlist.texts import ANSWER_KIND, OFFER_KIND, REPLY_KIND, opening_text
from comptoir.webhooks.services import webhooks_emit

REPLY_WINDOW = dt.timedelta(hours=24)
YES = frozenset(
    {
        "oui",
        "yes",
        "1",
        "ok",
        "okay",
        "ouais",
        "yep",
        "y",
        "o",
        "je prends",
        "je le prends",
        "d accord",
        "dac",
        "volontiers",
        "yes please",
        "i ll take it",
    }
)
NO = frozenset({"non", "no", "nope", "non merci", "no thanks", "pas dispo"})
# Words that may follow the answer ("oui merci", "OK super !"); anything else is a sentence.
COURTESY = frozenset(
    {
        "merci",
        "svp",
        "stp",
        "thanks",
        "thank",
        "you",
        "please",
        "super",
        "parfait",
        "top",
        "bien",
        "great",
        "beaucoup",
    }
)
# OUI/YES are also opt-in words: the compliance step marks them, but they re-subscribe only
# someone who had left, and still answer a question (as for appointment answers).
FREE_KINDS = frozenset({"", "keyword_opt_in"})


def answer_of(text: str) -> str | None:
    """ "yes", "no", or None when the text is not clearly one of them."""
    words = normalize(text).split()
    while words and words[-1] in COURTESY and len(words) > 1:
        words.pop()
    phrase = " ".join(words)
    if phrase in YES:
        return "yes"
    if phrase in NO or (words and words[0] in NO and all(w in COURTESY for w in words[1:])):
        return "no"
    return None


def _latest_offers(workspace_id: Any, contact_ids: set[Any], now: dt.datetime) -> dict[Any, Offer]:
    """Each contact's most recent offer sent within the window (one query)."""
    offers = (
        Offer.objects.for_workspace(workspace_id)
        .filter(contact_id__in=contact_ids, sent_at__gte=now - REPLY_WINDOW)
        .exclude(status=OfferStatus.NOT_SENT)
        .select_related("opening", "opening__workspace", "contact")
        .order_by("-sent_at", "-id")
    )
    latest: dict[Any, Offer] = {}
    for offer in offers:
        latest.setdefault(offer.contact_id, offer)
    return latest


def waitlist_replies_apply(messages: Sequence[Message]) -> None:
    """Inbound step: act on answers to offers, a few queries per workspace and batch."""
    now = timezone.now()
    by_workspace: dict[Any, list[tuple[Message, str]]] = defaultdict(list)
    for message in awaiting_filter(messages, now):
        if message.contact_id is None or message.kind not in FREE_KINDS:
            continue  # an opt-out, an appointment answer…: another step's
        answer = answer_of(message.body)
        if answer is not None:
            by_workspace[message.workspace_id].append((message, answer))
    for workspace_id, candidates in by_workspace.items():
        contact_ids = {m.contact_id for m, _ in candidates}
        latest = _latest_offers(workspace_id, contact_ids, now)
        asked = questions_latest(
            workspace_id, set(latest), since=now - REPLY_WINDOW, besides={OFFER_KIND}
        )
        answers: list[SendRequest] = []
        handled: list[Message] = []
        for message, answer in candidates:
            offer = latest.get(message.contact_id)
            if offer is None:
                continue  # no offer to answer: a "oui" for the inbox
            if asked.get(message.contact_id) and asked[message.contact_id] > offer.sent_at:
                continue  # another question came after the offer: it is the one answered
            if offer.status == OfferStatus.WON and answer == "no":
                continue  # a winner changing their mind: staff will see it
            text = _act(offer, message, answer, now)
            handled.append(message)
            if text:
                answers.append(_answer(message, text))
        if handled:
            Message.objects.filter(id__in=[m.id for m in handled]).update(kind=REPLY_KIND)
            for message in handled:
                message.kind = REPLY_KIND  # the inbox, next in line, reads it from the object
        if answers:
            messages_send(workspace=handled[0].workspace, requests=answers)


def _answer(message: Message, text: str) -> SendRequest:
    return SendRequest(
        to=str(message.contact_id),
        body=text,
        purpose=Purpose.TRANSACTIONAL,
        idempotency_key=f"{ANSWER_KIND}:{message.id}",  # a replayed webhook answers once
        kind=ANSWER_KIND,
        channel=str(message.channel_id),
    )


def _act(offer: Offer, message: Message, answer: str, now: dt.datetime) -> str:
    """Record one answer; returns the text to send back ("" for none)."""
    opening = offer.opening
    contact = offer.contact
    if offer.status in (OfferStatus.WON, OfferStatus.TAKEN_BY_OTHER):
        # Already settled: a second "oui" from the winner needs no answer; another
        # customer hears (again) that it is taken.
        if offer.status == OfferStatus.WON or answer == "no":
            return ""
        return opening_text(opening, contact, "taken")
    if answer == "no":
        return _decline(offer, message, now)
    claimed = Opening.objects.filter(id=opening.id, status=OpeningStatus.OPEN).update(
        status=OpeningStatus.TAKEN, winner=contact, taken_at=now, updated_at=now
    )
    if not claimed:
        opening.refresh_from_db(fields=["status", "winner"])
        if opening.status == OpeningStatus.TAKEN:
            _settle(offer, message, OfferStatus.TAKEN_BY_OTHER, now)
            return opening_text(opening, contact, "taken")
        _settle(offer, message, OfferStatus.EXPIRED, now)  # cancelled, or its time came
        return opening_text(opening, contact, "gone")
    return _win(offer, message, now)


def _settle(offer: Offer, message: Message, status: str, now: dt.datetime) -> None:
    offer.status, offer.reply, offer.answered_at = status, message, now
    offer.save(update_fields=["status", "reply", "answered_at", "updated_at"])


def _decline(offer: Offer, message: Message, now: dt.datetime) -> str:
    opening = offer.opening
    _settle(offer, message, OfferStatus.DECLINED, now)
    if opening.mode == OpeningMode.IN_ORDER:
        locked = Opening.objects.select_for_update().select_related("workspace").get(id=opening.id)
        live = Offer.objects.filter(
            opening=locked, status=OfferStatus.OFFERED, expires_at__gt=now
        ).exists()
        if not live:
            offers_send(locked, now)  # the next in line hears at once
    return opening_text(opening, offer.contact, "declined")


def _win(offer: Offer, message: Message, now: dt.datetime) -> str:
    """The opening is this customer's: the offer won, the others closed, the entry done, an
    appointment booked (the automation rules confirm and remind as for any booking), and
    the shop's software told. Returns our confirmation unless a rule already sent one."""
    opening = offer.opening
    opening.status, opening.winner, opening.taken_at = OpeningStatus.TAKEN, offer.contact, now
    _settle(offer, message, OfferStatus.WON, now)
    Offer.objects.filter(
        opening=opening, status__in=(OfferStatus.OFFERED, OfferStatus.EXPIRED)
    ).update(status=OfferStatus.TAKEN_BY_OTHER, updated_at=now)
    if offer.entry_id is not None:
        offer.entry.active = False  # type: ignore[union-attr]
        offer.entry.save(update_fields=["active", "updated_at"])  # type: ignore[union-attr]
    result = event_receive(
        workspace=opening.workspace,
        event_id=f"waitlist:{opening.id}",
        type="appointment.booked",
        contact=ContactRef(id=offer.contact_id),
        data={
            "appointment_id": f"waitlist:{opening.id}",
            "starts_at": opening.starts_at.isoformat(),
            "place": opening.place,
            "service": opening.service,
        },
    )
    opening.appointment = result.event.appointment
    opening.save(update_fields=["appointment", "updated_at"])
    webhooks_emit(opening.workspace, [("opening.taken", opening_payload(opening, offer, message))])
    confirmed = any(
        run.status == RunStatus.SENT and run.rule.trigger_type == TriggerType.EVENT
        for run in result.runs
    )
    return "" if confirmed else opening_text(opening, offer.contact, "won")


def opening_payload(opening: Opening, offer: Offer, message: Message) -> dict[str, Any]:
    contact = offer.contact
    return {
        "opening_id": opening.id,
        "starts_at": opening.starts_at,
        "place": opening.place,
        "service": opening.service,
        "mode": opening.mode,
        "status": opening.status,
        "contact": {"id": contact.id, "phone": contact.phone},
        "offer_id": offer.id,
        "appointment_id": opening.appointment_id,
        "external_id": opening.appointment.external_id if opening.appointment else None,
        "message_id": message.id,
    }
