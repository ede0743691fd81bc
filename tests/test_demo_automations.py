# ruff: noqa: F811 - the receiver fixture imported from tests.test_appointment_replies is a parameter here
"""Issue 6's walk-through on the demo shop, end to end: a booking for tomorrow through the
API, its confirmation on the phone simulator, its reminder planned then sent by "Run due
now", `A` from the simulator cancelling it with the shop's webhook; a purchase, its
survey two days later and a reply of 2 opening a priority conversation; a customer with
only a landline getting the reminder as a (sandbox) call, answered on the simulator.

Everything goes through the demo's own doors: the events API with the key `make demo`
prints, the staff pages (Automations → Planned and sent, the inbox), the phone
simulator's views, the sandbox carrier's signed webhooks. The clock is frozen in the
shop's time zone (Europe/Paris) and moved by hand for every timing rule.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.test import Client
from huey.contrib.djhuey import HUEY

from comptoir.automations.models import Appointment, RunStatus, ScheduledRun
from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact
from comptoir.core.demo import demo_access, seed_demo
from comptoir.messaging.models import CallEvent, Direction, Message, Status
from comptoir.sandbox.carrier import RECEIPTS_FLAG, deliver_receipts
from comptoir.sandbox.models import CarrierMessage
from comptoir.surveys.models import SurveyResponse
from comptoir.webhooks.delivery import deliveries_send_due
from comptoir.workspaces.models import Workspace
from tests.conftest import ApiClient
from tests.test_appointment_replies import receiver  # noqa: F401 - a fixture

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
# `make demo` run on a Monday morning in Lyon.
SEEDED = dt.datetime(2026, 11, 23, 9, 0, tzinfo=PARIS)
BOOKED = SEEDED + dt.timedelta(minutes=20)
STARTS = dt.datetime(2026, 11, 24, 15, 30, tzinfo=PARIS)  # tomorrow, 15:30
REMINDER_DUE = STARTS - dt.timedelta(hours=24)
# Seeded customers nobody has written to yet (docs/automations.md uses the same numbers).
MOBILE = "+33612341005"  # 06 12 34 10 05
BUYER = "+33612341006"  # 06 12 34 10 06
LANDLINE = "+33199000016"  # 01 99 00 00 16, a landline only
ASKER = "+33612341007"  # 06 12 34 10 07


@dataclass
class Demo:
    workspace: Workspace
    channel: Channel
    api: ApiClient
    staff: Client


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(SEEDED, tick=False) as traveller:
        yield traveller


@pytest.fixture
def demo(transactional_db: None, clock: Any) -> Iterator[Demo]:
    """The shop `make demo` seeds, its printed login and API key (commits are real, so
    Huey's immediate mode dispatches each message after its transaction, as the worker)."""
    workspace, created = seed_demo()
    assert created
    user, password, key = demo_access(workspace)
    staff = Client()
    assert staff.login(username=user, password=password)
    channel = Channel.objects.get(workspace=workspace, provider="sandbox")
    # The numbers the walk-through uses are the seed's: customers nobody has heard from.
    seeded = Contact.objects.for_workspace(workspace).filter(conversations=None)
    types = dict(seeded.filter(phone__in=[MOBILE, BUYER, ASKER, LANDLINE]).values_list(
        "phone", "number_type"
    ))  # fmt: skip
    assert types == {MOBILE: "mobile", BUYER: "mobile", ASKER: "mobile", LANDLINE: "fixed_line"}
    yield Demo(workspace, channel, ApiClient(key), staff)
    HUEY.delete(RECEIPTS_FLAG)  # a receipt run left pending would silence the next test's


def network_settles(clock: Any) -> None:
    """The simulated network's receipts a second later (its delayed task's work)."""
    clock.shift(dt.timedelta(seconds=2))
    deliver_receipts()


def book(demo: Demo, event_id: str, phone: str, starts: dt.datetime = STARTS) -> dict[str, Any]:
    payload = {
        "id": event_id,
        "type": "appointment.booked",
        "contact": {"phone": phone},
        "data": {
            "appointment_id": f"rdv-{event_id}",
            "starts_at": starts.isoformat(),
            "place": "Lyon Presqu'île",
            "service": "Examen de vue",
        },
    }
    answer = demo.api.post("/api/v1/events", payload)
    assert answer.status_code == 202, answer.content
    return answer.json()


def handset(demo: Demo, number: str) -> str:
    """What the phone simulator shows for this number."""
    page = demo.staff.get("/sandbox/phone/", {"number": number})
    assert page.status_code == 200
    return page.content.decode()


def runs_page(demo: Demo) -> str:
    page = demo.staff.get("/automations/runs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'action="/automations/runs/due-now"' in html and "Run due now" in html
    return html


def run_due_now(demo: Demo) -> str:
    answer = demo.staff.post("/automations/runs/due-now", follow=True)
    assert answer.status_code == 200
    return answer.content.decode()


def simulator_reply(demo: Demo, number: str, text: str) -> Message:
    answer = demo.staff.post("/sandbox/phone/reply", {"number": number, "text": text})
    assert answer.status_code == 302
    return Message.objects.filter(direction=Direction.IN, contact__phone=number).latest(
        "created_at"
    )


def test_booking_reminder_and_a_cancels_with_the_webhook(demo, clock, receiver):
    hook = demo.api.post(
        "/api/v1/webhooks", {"url": receiver[0][0]["url"], "events": ["appointment.*"]}
    )
    assert hook.status_code == 201, hook.content
    secret = hook.json()["secret"]
    clock.move_to(BOOKED)
    booked = book(demo, "demo-1", MOBILE)
    assert {r["rule"]: r["status"] for r in booked["runs"]} == {
        "booking_confirmation": "sent",
        "appointment_reminder": "pending",
    }

    # The confirmation is on the customer's phone at once.
    network_settles(clock)
    confirmation = Message.objects.get(contact__phone=MOBILE, direction=Direction.OUT)
    assert confirmation.status == Status.DELIVERED
    assert "votre rendez-vous du 24 novembre 2026 à 15:30 est bien noté" in confirmation.body
    assert "est bien noté" in handset(demo, MOBILE)

    # The reminder is planned for 24 h before, and shown so on Planned and sent.
    reminder = ScheduledRun.objects.get(contact__phone=MOBILE, rule__key="appointment_reminder")
    assert reminder.due_at == REMINDER_DUE
    row = runs_page(demo).split(f'id="run-{reminder.id}"')[1].split("</tr>")[0]
    assert "2026-11-23 15:30" in row and "Pending" in row and "Send now" in row

    # Before its time, "Run due now" sends nothing; at its time, it sends the reminder.
    clock.move_to(REMINDER_DUE - dt.timedelta(minutes=1))
    assert "0 sent" in run_due_now(demo)
    reminder.refresh_from_db()
    assert reminder.status == RunStatus.PENDING
    clock.move_to(REMINDER_DUE)
    assert "1 sent" in run_due_now(demo)
    reminder.refresh_from_db()
    assert (reminder.status, reminder.channel) == (RunStatus.SENT, "sms")
    network_settles(clock)
    assert reminder.message is not None
    reminder.message.refresh_from_db()
    assert reminder.message.status == Status.DELIVERED
    assert "Répondez C pour confirmer, A pour annuler." in handset(demo, MOBILE)

    # The customer answers A from the simulator: cancelled, told so, the shop hears of it.
    clock.shift(dt.timedelta(minutes=10))
    answer = simulator_reply(demo, MOBILE, "A")
    assert answer.kind == "appointment_reply"
    appointment = Appointment.objects.get(external_id="rdv-demo-1")
    assert appointment.status == "cancelled"
    network_settles(clock)
    assert "est annulé" in handset(demo, MOBILE)
    deliveries_send_due()
    [(headers, body)] = receiver[1:]
    assert headers["X-Comptoir-Event"] == "appointment.cancelled"
    parts = dict(p.split("=", 1) for p in headers["X-Comptoir-Signature"].split(","))
    signed = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], signed.hexdigest())
    data = json.loads(body)["data"]
    assert (data["external_id"], data["status"], data["source"]) == (
        "rdv-demo-1",
        "cancelled",
        "reply",
    )
    assert data["message_id"] == str(answer.id)


def inbox_rows(demo: Demo) -> list[str]:
    """The inbox list's rows, top first, as the staff page renders them."""
    page = demo.staff.get("/inbox/")
    assert page.status_code == 200
    html = page.content.decode()
    return html.split('<ol class="rows">')[1].split("</ol>")[0].split('<li class="row')[1:]


def staff_close_the_seeded_conversations(demo: Demo) -> None:
    """What a shop does within two days: the seeded customers' questions are dealt with
    (else they have waited 2 days, 1 point per 2 minutes, far above any new reason)."""
    for row in inbox_rows(demo):
        conversation_id = row.split('data-id="')[1].split('"')[0]
        closed = demo.staff.post(f"/inbox/{conversation_id}/status", {"status": "closed"})
        assert closed.status_code in (200, 302)
    assert inbox_rows(demo) == []


def test_purchase_survey_and_a_low_score_opens_a_priority_conversation(demo, clock):
    clock.move_to(BOOKED)
    payload = {
        "id": "demo-p-1",
        "type": "purchase.completed",
        "contact": {"phone": BUYER},
        "data": {"order_number": "C-1001", "amount": "129.00", "store": "Lyon Presqu'île"},
    }
    answer = demo.api.post("/api/v1/events", payload)
    assert answer.status_code == 202, answer.content
    [planned] = answer.json()["runs"]
    assert (planned["rule"], planned["status"]) == ("purchase_survey", "pending")
    survey = ScheduledRun.objects.get(contact__phone=BUYER, rule__key="purchase_survey")
    assert survey.due_at == BOOKED + dt.timedelta(days=2)
    clock.shift(dt.timedelta(days=1))
    assert "0 sent" in run_due_now(demo)  # not yet
    staff_close_the_seeded_conversations(demo)

    # Another customer asks something ordinary half an hour before the survey's answer.
    clock.move_to(survey.due_at - dt.timedelta(minutes=25))
    simulator_reply(demo, ASKER, "Bonjour, vous êtes ouverts samedi ?")

    clock.move_to(survey.due_at)
    assert "1 sent" in run_due_now(demo)
    network_settles(clock)
    survey.refresh_from_db()
    assert survey.status == RunStatus.SENT
    assert survey.message is not None
    survey.message.refresh_from_db()
    assert survey.message.status == Status.DELIVERED
    assert "De 1 à 5" in handset(demo, BUYER)

    clock.shift(dt.timedelta(minutes=5))
    reply = simulator_reply(demo, BUYER, "2")
    assert reply.kind == "survey_low_score"
    assert SurveyResponse.objects.get(run=survey).score == 2
    top, second = inbox_rows(demo)[:2]
    buyer = Contact.objects.get(workspace=demo.workspace, phone=BUYER)
    asker = Contact.objects.get(workspace=demo.workspace, phone=ASKER)
    assert buyer.display_name in top and "Survey score 2/5 +40" in top
    assert asker.display_name in second  # waited longer, for an ordinary question


def ringing_call(demo: Demo, message: Message) -> CarrierMessage:
    return CarrierMessage.objects.get(
        channel_uuid=demo.channel.id, reference=str(message.id), medium="voice"
    )


def pickup(demo: Demo, number: str, call_id: str, action: str) -> str:
    answer = demo.staff.post(
        "/sandbox/phone/pickup", {"number": number, "call": call_id, "action": action}
    )
    assert answer.status_code == 302
    return handset(demo, number)


def test_a_landline_customer_gets_the_reminder_as_a_call(demo, clock):
    clock.move_to(BOOKED)
    book(demo, "demo-2", LANDLINE)
    # The confirmation already goes by call: a text to a landline would be blocked.
    confirmation = Message.objects.get(contact__phone=LANDLINE, kind="automation")
    assert (confirmation.medium, confirmation.status) == ("voice", Status.SENT)
    page = pickup(demo, LANDLINE, ringing_call(demo, confirmation).provider_id, "answer")
    assert "est bien noté" in page

    clock.move_to(REMINDER_DUE)
    assert "1 sent" in run_due_now(demo)
    reminder = ScheduledRun.objects.get(contact__phone=LANDLINE, rule__key="appointment_reminder")
    assert (reminder.status, reminder.channel) == (RunStatus.SENT, "voice")
    assert 'data-channel="voice"' in runs_page(demo)
    message = reminder.message
    assert message is not None
    assert (message.medium, message.status) == ("voice", Status.SENT)
    call = ringing_call(demo, message)
    assert call.call_state == "ringing"
    page = handset(demo, LANDLINE)
    ringing = page.split('data-call-state="ringing"')[1].split("</div>")[0]
    assert "Incoming call from the shop" in ringing and "rappel de votre rendez-vous" in ringing
    assert f'value="{call.provider_id}"' in ringing

    # Read aloud with keys in place of the texting instruction, listening for one key.
    assert "Appuyez sur 1 pour confirmer, sur 2 pour annuler." in message.body
    assert "Répondez C" not in message.body and message.gather_digits == 1

    clock.shift(dt.timedelta(seconds=8))
    page = pickup(demo, LANDLINE, call.provider_id, "answer")
    assert 'data-call-state="answered"' in page  # the keypad is shown
    answer = demo.staff.post(
        "/sandbox/phone/pickup",
        {"number": LANDLINE, "call": call.provider_id, "action": "key", "digits": "2"},
    )
    assert answer.status_code == 302
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    kinds = sorted(e.kind for e in CallEvent.objects.filter(message=message))
    assert kinds == [CallEvent.KEYPRESS, CallEvent.STATUS]
    appointment = reminder.appointment
    assert appointment is not None
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"  # 2: cancelled, as "A" by text would
    # Nothing went to the landline as a text.
    texts = Message.objects.filter(contact__phone=LANDLINE, direction=Direction.OUT)
    assert not texts.exclude(medium="voice").exists()
