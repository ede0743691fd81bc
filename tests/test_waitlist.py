"""The waitlist: a freed slot offered in order or all at once, exactly one winner."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection

from comptoir.automations.models import Appointment
from comptoir.compliance.consent import opted_out
from comptoir.contacts.services import contact_create
from comptoir.messaging.awaiting import AWAITED_KINDS, awaited_kind_register
from comptoir.messaging.inbound import INBOUND_STEPS, events_store
from comptoir.messaging.models import Direction, Message
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.providers.base import InboundMessage
from comptoir.sandbox.carrier import customer_texts
from comptoir.waitlist.models import Offer, Opening, WaitlistEntry
from comptoir.waitlist.offers import openings_advance
from comptoir.waitlist.replies import answer_of
from comptoir.waitlist.services import entry_add, opening_create
from comptoir.webhooks.models import WebhookDelivery
from comptoir.webhooks.services import webhook_endpoint_create

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)  # 10:00 in Paris
SLOT = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)  # 16:00 in Paris, the workspace's zone
PHONES = ["+33612340001", "+33612340002", "+33612340003"]


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def waiting(workspace, names=("Alice", "Bruno", "Chloé"), service=""):
    """Customers on the list in this order, one entry each."""
    contacts = []
    for name, phone in zip(names, PHONES, strict=False):
        contact = contact_create(workspace=workspace, phone=phone, first_name=name, language="fr")
        entry_add(workspace=workspace, contact=contact, service=service)
        contacts.append(contact)
    return contacts


def reply(channel, phone: str, text: str) -> Message:
    assert customer_texts(channel=channel, sender=phone, text=text).status == 200
    return Message.objects.filter(direction=Direction.IN, address=phone).latest("created_at")


def offer_of(contact) -> Offer:
    return Offer.objects.get(contact=contact)


def answers_to(contact) -> list[str]:
    return list(
        Message.objects.filter(contact=contact, kind="waitlist_answer")
        .order_by("created_at")
        .values_list("body", flat=True)
    )


def open_slot(api, **fields):
    payload = {"starts_at": SLOT.isoformat(), "service": "Examen de vue", **fields}
    response = api.post("/api/v1/openings", payload)
    assert response.status_code == 201, response.json()
    return response.json()


def test_the_step_runs_after_keywords_and_appointment_answers_and_before_the_inbox():
    names = [f"{s.__module__}.{s.__name__}" for s in INBOUND_STEPS]
    mine = names.index("comptoir.waitlist.replies.waitlist_replies_apply")
    assert names.index("comptoir.compliance.replies.keywords_apply") < mine
    assert names.index("comptoir.automations.replies.appointment_replies_apply") < mine
    assert mine < names.index("comptoir.inbox.filing.conversations_receive")


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("OUI", "yes"),
        ("oui !", "yes"),
        ("Oui merci", "yes"),
        ("yes", "yes"),
        ("1", "yes"),
        ("OK super", "yes"),
        ("je le prends", "yes"),
        ("D'accord", "yes"),
        ("NON", "no"),
        ("non merci", "no"),
        ("No thanks", "no"),
        ("oui mais à quelle heure ?", None),
        ("STOP", None),
        ("12", None),
        ("", None),
        ("👍", None),
    ],
)
def test_answers_are_read_tolerantly_but_not_guessed(text, answer):
    assert answer_of(text) == answer


def test_in_order_offers_one_at_a_time_and_moves_on_when_time_is_over(
    api, workspace, channel, clock
):
    alice, bruno, chloe = waiting(workspace)
    opening = open_slot(api, mode="in_order", offer_minutes=15)
    assert [o["contact_name"] for o in opening["offers"]] == ["Alice"]
    offer = offer_of(alice)
    assert offer.expires_at == T0 + dt.timedelta(minutes=15)
    assert offer.message.body == (
        "Optique Test : Alice, un créneau s'est libéré le 23 novembre 2026 à 16:00 "
        "(Examen de vue, en magasin). Répondez OUI pour le prendre, NON sinon. "
        "Il vous est réservé 15 min."
    )
    assert offer.message.purpose == "transactional"

    clock.shift(dt.timedelta(minutes=14))
    assert openings_advance() == 0
    assert Offer.objects.count() == 1

    clock.shift(dt.timedelta(minutes=1))
    assert openings_advance() == 1
    offer.refresh_from_db()
    assert offer.status == "expired"
    assert offer_of(bruno).status == "offered"
    assert offer_of(bruno).expires_at == T0 + dt.timedelta(minutes=30)
    assert not Offer.objects.filter(contact=chloe).exists()

    clock.shift(dt.timedelta(minutes=15))
    openings_advance()
    assert offer_of(chloe).status == "offered"
    clock.shift(dt.timedelta(minutes=15))
    openings_advance()  # nobody left: the opening stays open for a late OUI
    assert Opening.objects.get().status == "open"
    assert Offer.objects.filter(status="offered").count() == 0


def test_the_first_yes_wins_books_the_slot_and_later_ones_are_told_it_is_taken(
    api, workspace, channel, clock
):
    webhook_endpoint_create(workspace=workspace, url="https://shop.example/h", events=["opening.*"])
    alice, bruno, _chloe = waiting(workspace)
    opening = open_slot(api, mode="in_order")
    clock.shift(dt.timedelta(minutes=15))
    openings_advance()  # Alice's turn is over, Bruno's starts

    message = reply(channel, PHONES[1], "oui merci")
    assert message.kind == "waitlist_reply"
    won = Opening.objects.get()
    assert (won.status, won.winner_id) == ("taken", bruno.id)
    assert offer_of(bruno).status == "won"
    assert offer_of(bruno).reply_id == message.id
    assert offer_of(alice).status == "taken_by_other"
    appointment = Appointment.objects.get()
    assert (appointment.contact_id, appointment.starts_at) == (bruno.id, SLOT)
    assert appointment.service == "Examen de vue"
    assert won.appointment_id == appointment.id
    # The booking confirmation rule confirms it, as for any booking, and a reminder is planned.
    confirmation = Message.objects.get(contact=bruno, kind="automation")
    assert "est bien noté" in confirmation.body
    assert not WaitlistEntry.objects.get(contact=bruno).active
    assert WaitlistEntry.objects.get(contact=alice).active
    hook = WebhookDelivery.objects.get(event_type="opening.taken")
    assert hook.payload["opening_id"] == opening["id"]
    assert hook.payload["contact"]["id"] == str(bruno.id)
    assert hook.payload["appointment_id"] == str(appointment.id)

    late = reply(channel, PHONES[0], "OUI")  # Alice, too late
    assert late.kind == "waitlist_reply"
    assert answers_to(alice) == [
        "Optique Test : désolé, le créneau du 23 novembre 2026 à 16:00 vient d'être pris. "
        "Vous restez sur notre liste d'attente."
    ]
    assert Opening.objects.get().winner_id == bruno.id
    assert Appointment.objects.count() == 1
    # A second OUI from the winner changes nothing and gets no second answer.
    reply(channel, PHONES[1], "OUI")
    assert Appointment.objects.count() == 1
    assert answers_to(bruno) == []


def test_a_late_yes_still_wins_while_the_slot_is_open(api, workspace, channel, clock):
    alice, bruno, _chloe = waiting(workspace)
    open_slot(api, mode="in_order")
    clock.shift(dt.timedelta(minutes=16))
    openings_advance()
    reply(channel, PHONES[0], "oui")
    assert Opening.objects.get().winner_id == alice.id
    assert offer_of(bruno).status == "taken_by_other"


def test_all_at_once_offers_every_matching_customer(api, workspace, channel, clock):
    alice, bruno, chloe = waiting(workspace, service="Examen de vue")
    WaitlistEntry.objects.filter(contact=chloe).update(service="Lentilles")
    extra = contact_create(workspace=workspace, phone="+33612340009", first_name="Dan")
    entry_add(workspace=workspace, contact=extra)  # any service
    opening = open_slot(api, mode="all_at_once")
    offered = {o["contact_name"] for o in opening["offers"]}
    assert offered == {"Alice", "Bruno", "Dan"}
    assert all(o.expires_at == SLOT for o in Offer.objects.all())
    assert "premier arrivé, premier servi" in offer_of(alice).message.body
    clock.shift(dt.timedelta(minutes=30))
    openings_advance()
    assert Offer.objects.filter(status="offered").count() == 3  # they keep until the slot

    reply(channel, "+33612340009", "ok")
    reply(channel, PHONES[0], "oui")
    assert Opening.objects.get().winner_id == extra.id
    assert offer_of(alice).status == "taken_by_other"
    assert offer_of(bruno).status == "taken_by_other"
    assert "vient d'être pris" in answers_to(alice)[0]


def test_exactly_one_winner_when_two_yes_come_in_the_same_batch(api, workspace, channel, clock):
    alice, bruno, _ = waiting(workspace)
    open_slot(api, mode="all_at_once")
    events_store(
        channel=channel,
        events=[
            InboundMessage("p-1", PHONES[1], channel.address, "OUI"),
            InboundMessage("p-2", PHONES[0], channel.address, "oui"),
        ],
    )
    opening = Opening.objects.get()
    assert opening.winner_id == bruno.id  # the first in the batch
    assert Offer.objects.filter(status="won").count() == 1
    assert Appointment.objects.count() == 1
    assert offer_of(alice).status == "taken_by_other"
    assert "vient d'être pris" in answers_to(alice)[0]
    assert set(Message.objects.filter(direction=Direction.IN).values_list("kind", flat=True)) == {
        "waitlist_reply"
    }


@pytest.mark.django_db(transaction=True)
def test_exactly_one_winner_when_two_yes_are_stored_at_the_same_moment(workspace, channel):
    """Two workers store two customers' OUI at once (meaningful on PostgreSQL, where the
    storing transactions really overlap; SQLite serialises them)."""
    rounds = 3
    contacts = waiting(workspace, names=("Alice", "Bruno"))
    for round_ in range(rounds):
        opening = opening_create(
            workspace=workspace,
            # Days ahead: the winner's reminder is not due yet (its OUI would be the
            # appointment's; see docs/waitlist.md).
            starts_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=3 + round_),
            mode="all_at_once",
        )
        assert opening.offers.count() == 2
        start = threading.Barrier(2)
        errors: list[Exception] = []

        def store(index: int, round_: int = round_, start=start, errors=errors) -> None:
            try:
                start.wait()
                events_store(
                    channel=channel,
                    events=[
                        InboundMessage(f"r{round_}-{index}", PHONES[index], channel.address, "OUI")
                    ],
                )
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=store, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        opening.refresh_from_db()
        assert opening.status == "taken"
        statuses = sorted(opening.offers.values_list("status", flat=True))
        assert statuses == ["taken_by_other", "won"]
        loser = opening.offers.get(status="taken_by_other").contact
        assert "vient d'être pris" in answers_to(loser)[-1]
        # The winner's entry is done: next round only the other one is offered.
        assert opening.winner_id in {c.id for c in contacts}
        WaitlistEntry.objects.update(active=True)
    assert Appointment.objects.count() == rounds


def test_no_passes_the_slot_on_at_once(api, workspace, channel, clock):
    alice, bruno, _ = waiting(workspace)
    open_slot(api, mode="in_order")
    message = reply(channel, PHONES[0], "Non merci")
    assert message.kind == "waitlist_reply"
    assert offer_of(alice).status == "declined"
    assert offer_of(bruno).status == "offered"
    assert answers_to(alice) == [
        "Optique Test : c'est noté, vous restez sur notre liste d'attente."
    ]
    reply(channel, PHONES[1], "oui")
    assert Opening.objects.get().winner_id == bruno.id


def test_stop_opts_out_and_is_not_an_acceptance(api, workspace, channel, clock):
    alice, *_ = waiting(workspace)
    open_slot(api, mode="in_order")
    message = reply(channel, PHONES[0], "STOP")
    assert message.kind == "keyword_opt_out"
    alice.refresh_from_db()
    assert opted_out(alice)
    assert Opening.objects.get().status == "open"
    assert offer_of(alice).status == "offered"
    assert not Appointment.objects.exists()


def test_an_opted_out_customer_is_skipped_for_the_next(api, workspace, channel, clock):
    alice, bruno, _ = waiting(workspace)
    reply(channel, PHONES[0], "STOP")
    open_slot(api, mode="in_order")
    assert offer_of(alice).status == "not_sent"
    assert offer_of(alice).reason
    assert offer_of(bruno).status == "offered"


def test_unclear_replies_and_replies_without_an_offer_go_to_the_inbox(
    api, workspace, channel, clock
):
    waiting(workspace)
    stranger = reply(channel, "+33612349999", "ok")
    assert stranger.kind == ""
    open_slot(api, mode="in_order")
    unclear = reply(channel, PHONES[0], "oui mais à quelle heure ?")
    assert unclear.kind == ""
    assert unclear.contact.conversations.get().unanswered == 1
    assert Opening.objects.get().status == "open"


def test_a_question_sent_after_the_offer_is_the_one_answered(api, workspace, channel, clock):
    alice, *_ = waiting(workspace)
    open_slot(api, mode="all_at_once")
    awaited_kind_register("test_question", dt.timedelta(days=1))
    try:
        clock.shift(dt.timedelta(minutes=2))
        messages_send(
            workspace=workspace,
            requests=[SendRequest(to=str(alice.id), body="Note 1 à 5 ?", kind="test_question")],
        )
        assert reply(channel, PHONES[0], "1").kind == ""
        assert Opening.objects.get().status == "open"
    finally:
        AWAITED_KINDS.pop("test_question")


def test_a_yes_after_the_slot_is_gone_is_told_so(api, workspace, channel, clock):
    alice, *_ = waiting(workspace)
    opening = open_slot(api, mode="all_at_once")
    assert api.post(f"/api/v1/openings/{opening['id']}/cancel").json()["status"] == "cancelled"
    reply(channel, PHONES[0], "oui")
    assert "n'est plus disponible" in answers_to(alice)[0]
    assert not Appointment.objects.exists()


def test_an_opening_expires_when_its_time_comes(api, workspace, channel, clock):
    waiting(workspace)
    open_slot(api, mode="in_order", offer_minutes=600)
    clock.move_to(SLOT)
    openings_advance()
    assert Opening.objects.get().status == "expired"
    assert Offer.objects.get().status == "expired"


def test_an_opening_from_a_cancelled_appointment(api, workspace, channel, clock):
    alice, *_ = waiting(workspace)
    booking = {
        "id": "b1",
        "type": "appointment.booked",
        "contact": {"id": str(alice.id)},
        "data": {"appointment_id": "rdv-1", "starts_at": SLOT.isoformat(), "place": "Lyon"},
    }
    assert api.post("/api/v1/events", booking).status_code == 202
    refused = api.post("/api/v1/openings", {"appointment_id": "rdv-1"})
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "appointment_id"
    cancel = {"id": "b2", "type": "appointment.cancelled", "contact": {"id": str(alice.id)}}
    cancel["data"] = {"appointment_id": "rdv-1"}
    assert api.post("/api/v1/events", cancel).status_code == 202
    opening = api.post("/api/v1/openings", {"appointment_id": "rdv-1"}).json()
    assert (opening["starts_at"], opening["place"]) == ("2026-11-23T15:00:00Z", "Lyon")
    # Alice cancelled it: Bruno, next in line, is offered it.
    assert [o["contact_name"] for o in opening["offers"]] == ["Bruno"]
