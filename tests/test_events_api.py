"""POST /api/v1/events: bookings, orders, custom events, bad input, idempotency."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from comptoir.automations.models import Appointment, CustomerEvent, RunStatus, ScheduledRun
from comptoir.contacts.models import Contact
from comptoir.messaging.models import Message

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)  # 10:00 in Paris
PHONE = "+33612345678"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def booking(event_id: str = "evt-1", starts_at: str = "2026-11-24T15:30:00+01:00", **data):
    return {
        "id": event_id,
        "type": "appointment.booked",
        "contact": {"phone": "06 12 34 56 78", "first_name": "Julie", "last_name": "Martin"},
        "data": {"appointment_id": "rdv-42", "starts_at": starts_at, "place": "Lyon", **data},
    }


def test_a_booking_for_tomorrow_confirms_now_and_plans_the_reminder(api, workspace):
    answer = api.post("/api/v1/events", booking())
    assert answer.status_code == 202, answer.content
    body = answer.json()
    contact = Contact.objects.get(workspace=workspace, phone=PHONE)
    assert (contact.first_name, contact.is_prospect) == ("Julie", False)
    appointment = Appointment.objects.get(external_id="rdv-42")
    assert body["appointment_id"] == str(appointment.id)
    assert body["appointment_status"] == "booked" and body["custom"] is False
    runs = {r["rule"]: r for r in body["runs"]}
    assert runs["booking_confirmation"]["status"] == "sent"
    reminder = runs["appointment_reminder"]
    assert reminder["status"] == "pending"
    assert dt.datetime.fromisoformat(reminder["due_at"]) == dt.datetime(
        2026, 11, 23, 14, 30, tzinfo=dt.UTC
    )
    message = Message.objects.get(id=runs["booking_confirmation"]["message_id"])
    assert message.body == (
        "Optique Test : votre rendez-vous du 24 novembre 2026 à 15:30 est bien noté (Lyon). "
        "À bientôt !"
    )
    assert (message.address, message.purpose, message.kind) == (
        PHONE,
        "transactional",
        "automation",
    )


def test_the_same_event_id_twice_is_one_event_and_the_same_answer(api, workspace):
    first = api.post("/api/v1/events", booking())
    again = api.post("/api/v1/events", booking())
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert CustomerEvent.objects.count() == 1
    assert Message.objects.count() == 1
    assert ScheduledRun.objects.count() == 2


def test_an_event_id_reused_for_another_type_is_a_conflict(api, workspace):
    api.post("/api/v1/events", booking())
    other = {**booking(), "type": "order.ready", "data": {"order_number": "C-1"}}
    answer = api.post("/api/v1/events", other)
    assert answer.status_code == 409
    assert answer.json()["error"]["field"] == "external_id"


def test_an_unknown_type_is_accepted_as_a_custom_event(api, workspace):
    answer = api.post(
        "/api/v1/events",
        {
            "id": "x-1",
            "type": "loyalty.points_added",
            "contact": {"phone": PHONE},
            "data": {"points": 50},
        },
    )
    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert (body["type"], body["custom"], body["runs"]) == ("loyalty.points_added", True, [])
    assert CustomerEvent.objects.get().data == {"points": 50}


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"id": "e", "type": "order.ready", "data": {}}, 422, "contact"),
        ({"id": "e", "type": "order.ready", "contact": {}}, 422, "contact"),
        ({"type": "order.ready", "contact": {"phone": PHONE}}, 422, "id"),
        (booking(starts_at="2026-11-24T15:30:00"), 422, "data.starts_at"),
        (booking(starts_at="demain 15h"), 422, "data.starts_at"),
        ({**booking(), "data": {"appointment_id": "r"}}, 422, "data.starts_at"),
        (
            {"id": "e", "type": "appointment.updated", "contact": {"phone": PHONE}, "data": {}},
            422,
            "data.appointment_id",
        ),
        ({"id": "e", "type": "Order Ready", "contact": {"phone": PHONE}}, 422, "type"),
        ({"id": "e", "type": "order.ready", "contact": {"phone": "12"}}, 422, "contact.phone"),
        (
            {
                "id": "e",
                "type": "order.ready",
                "contact": {"phone": PHONE, "timezone": "Mars/Base"},
            },
            422,
            "contact.timezone",
        ),
        (
            {
                "id": "e",
                "type": "order.ready",
                "contact": {"id": "0196a0a0-0000-7000-8000-000000000000"},
            },
            404,
            "contact.id",
        ),
        (
            {
                "id": "e",
                "type": "order.ready",
                "contact": {"phone": PHONE},
                "occurred_at": "2026-11-23T08:00:00",
            },
            422,
            "occurred_at",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field(api, workspace, payload, status, field):
    answer = api.post("/api/v1/events", payload)
    assert answer.status_code == status, answer.content
    assert answer.json()["error"]["field"] == field
    assert CustomerEvent.objects.count() == 0
    assert Appointment.objects.count() == 0


def test_a_time_without_zone_names_the_field_and_says_why(api, workspace):
    answer = api.post("/api/v1/events", booking(starts_at="2026-11-24T15:30:00"))
    assert "time zone" in answer.json()["error"]["message"]
    assert Contact.objects.count() == 0  # nothing half-done


def test_a_past_appointment_is_accepted_but_nothing_is_sent(api, workspace):
    answer = api.post("/api/v1/events", booking(starts_at="2026-11-20T15:30:00+01:00"))
    assert answer.status_code == 202
    runs = answer.json()["runs"]
    assert {(r["status"], r["reason"]) for r in runs} == {(RunStatus.SKIPPED, "appointment_past")}
    assert Appointment.objects.get().starts_at.day == 20
    assert Message.objects.count() == 0


def test_order_ready_says_the_order_number_to_a_contact_named_by_id(api, workspace):
    contact = Contact.objects.create(workspace=workspace, phone=PHONE, first_name="Paul")
    answer = api.post(
        "/api/v1/events",
        {
            "id": "o-7",
            "type": "order.ready",
            "contact": {"id": str(contact.id)},
            "data": {"order_number": "CMD-7731"},
        },
    )
    assert answer.status_code == 202
    message = Message.objects.get()
    assert "votre commande CMD-7731 est prête" in message.body
    assert message.contact_id == contact.id


def test_a_known_phone_fills_in_blank_details_and_overwrites_nothing(api, workspace):
    Contact.objects.create(workspace=workspace, phone=PHONE, first_name="Jules", is_prospect=True)
    payload = {
        "id": "s-1",
        "type": "contact.signed_up",
        "contact": {
            "phone": PHONE,
            "first_name": "Autre",
            "email": "j@example.com",
            "birthday": "1990-05-04",
        },
    }
    assert api.post("/api/v1/events", payload).status_code == 202
    contact = Contact.objects.get()
    assert (contact.first_name, contact.email, contact.birthday) == (
        "Jules",
        "j@example.com",
        dt.date(1990, 5, 4),
    )
    assert contact.is_prospect is False


def test_events_of_another_workspace_are_not_seen(api, workspace, other_workspace):
    from comptoir.workspaces.services import api_key_create
    from tests.conftest import ApiClient

    api.post("/api/v1/events", booking())
    other = ApiClient(api_key_create(workspace=other_workspace)[1])
    answer = other.post("/api/v1/events", {**booking(), "type": "appointment.cancelled"})
    assert answer.status_code == 202  # its own event id space: a new event there
    assert Appointment.objects.get(workspace=workspace).status == "booked"
    assert answer.json()["appointment_id"] is None
