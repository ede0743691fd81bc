"""Answers to reminders: C confirms, A cancels, webhooks tell the shop; STOP stays STOP."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine

from comptoir.automations.firing import runs_fire_due
from comptoir.automations.models import Appointment, RunStatus, ScheduledRun
from comptoir.automations.replies import answer_of
from comptoir.compliance.consent import opted_out
from comptoir.messaging.inbound import INBOUND_STEPS
from comptoir.messaging.models import Direction, Message
from comptoir.sandbox.carrier import customer_texts
from comptoir.webhooks.delivery import deliveries_send_due
from comptoir.webhooks.models import WebhookDelivery
from comptoir.webhooks.services import webhook_endpoint_create

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
START = dt.datetime(2026, 11, 24, 14, 30, tzinfo=dt.UTC)
REMINDED = START - dt.timedelta(hours=24)
PHONE = "+33612345678"


@pytest.fixture
def receiver() -> Iterator[list[tuple[dict[str, str], bytes]]]:
    """The shop's software: a real HTTP server on loopback recording each POST."""
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(
                (dict(self.headers.items()), self.rfile.read(int(self.headers["Content-Length"])))
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    got.append(({"url": f"http://127.0.0.1:{server.server_address[1]}/shop"}, b""))
    yield got
    server.shutdown()
    server.server_close()


@pytest.fixture
def reminded(api, workspace):
    """A booking for tomorrow 15:30 whose reminder went out; the clock is at the reminder."""
    with time_machine.travel(T0, tick=False):
        payload = {
            "id": "b1",
            "type": "appointment.booked",
            "contact": {"phone": PHONE},
            "data": {"appointment_id": "rdv-1", "starts_at": START.isoformat()},
        }
        assert api.post("/api/v1/events", payload).status_code == 202
    with time_machine.travel(REMINDED, tick=False) as traveller:
        assert runs_fire_due().sent == 1
        traveller.shift(dt.timedelta(hours=2))
        yield Appointment.objects.get()


def reply(channel, text: str) -> Message:
    assert customer_texts(channel=channel, sender=PHONE, text=text).status == 200
    return Message.objects.filter(direction=Direction.IN).latest("created_at")


def test_the_step_runs_after_the_keywords_and_before_the_inbox():
    names = [f"{s.__module__}.{s.__name__}" for s in INBOUND_STEPS]
    mine = names.index("comptoir.automations.replies.appointment_replies_apply")
    assert names.index("comptoir.compliance.replies.keywords_apply") < mine
    assert mine < names.index("comptoir.inbox.filing.conversations_receive")


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("C", "confirm"),
        ("c.", "confirm"),
        ("Oui", "confirm"),
        ("YES", "confirm"),
        ("confirmer", "confirm"),
        ("C merci", "confirm"),
        ("A", "cancel"),
        ("annuler !", "cancel"),
        ("Annuler svp", "cancel"),
        ("cancel", "cancel"),
        ("A quelle heure ?", None),
        ("oui mais plus tard", None),
        ("ça marche", None),
        ("", None),
        ("STOP", None),
    ],
)
def test_answers_are_read_strictly(text, outcome):
    assert answer_of(text) == outcome


def test_c_confirms_answers_and_tells_the_shop(reminded, channel, workspace, receiver):
    _endpoint, secret = webhook_endpoint_create(
        workspace=workspace, url=receiver[0][0]["url"], events=["appointment.*"]
    )
    message = reply(channel, "C")
    reminded.refresh_from_db()
    assert reminded.status == "confirmed"
    assert message.kind == "appointment_reply"
    answer = Message.objects.get(kind="appointment_answer")
    assert (
        answer.body
        == "Optique Test : merci, votre rendez-vous du 24 novembre 2026 à 15:30 est confirmé."
    )
    assert answer.idempotency_key == f"appointment_answer:{message.id}"
    deliveries_send_due()
    headers, body = receiver[1]
    assert headers["X-Comptoir-Event"] == "appointment.confirmed"
    parts = dict(p.split("=", 1) for p in headers["X-Comptoir-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    data = json.loads(body)["data"]
    assert (data["external_id"], data["status"], data["source"]) == ("rdv-1", "confirmed", "reply")
    assert data["message_id"] == str(message.id)


def test_a_cancels_the_appointment_its_pending_runs_and_fires_the_webhook(
    reminded, channel, workspace
):
    webhook_endpoint_create(workspace=workspace, url="https://shop.example/hook", events=["*"])
    # A follow-up the shop planned for after the visit must not go either.
    follow_up = ScheduledRun.objects.get(rule__key="appointment_reminder")
    ScheduledRun.objects.create(
        workspace=workspace,
        rule=follow_up.rule,
        contact=follow_up.contact,
        appointment=reminded,
        subject_key="later",
        due_at=START + dt.timedelta(hours=2),
    )
    message = reply(channel, "Annuler")
    reminded.refresh_from_db()
    assert reminded.status == "cancelled"
    assert message.kind == "appointment_reply"
    assert "est annulé" in Message.objects.get(kind="appointment_answer").body
    assert ScheduledRun.objects.get(subject_key="later").reason == "cancelled_by_reply"
    cancelled = WebhookDelivery.objects.get(event_type="appointment.cancelled")
    assert cancelled.payload["appointment_id"] == str(reminded.id)
    assert Message.objects.filter(kind="appointment_answer").count() == 1


def test_stop_opts_out_and_is_not_a_cancellation(reminded, channel):
    message = reply(channel, "STOP")
    assert message.kind == "keyword_opt_out"
    reminded.refresh_from_db()
    assert reminded.status == "booked"
    assert opted_out(reminded.contact)
    assert not Message.objects.filter(kind="appointment_answer").exists()


def test_cancel_is_an_opt_out_where_english_keywords_apply(reminded, channel):
    message = reply(channel, "CANCEL")
    assert message.kind == "keyword_opt_out"
    reminded.refresh_from_db()
    assert reminded.status == "booked"
    assert opted_out(reminded.contact)


def test_unclear_replies_go_to_the_inbox_untouched(reminded, channel):
    message = reply(channel, "A quelle heure déjà ?")
    assert message.kind == ""
    reminded.refresh_from_db()
    assert reminded.status == "booked"
    assert message.contact.conversations.get().unanswered == 1
    assert not Message.objects.filter(kind="appointment_answer").exists()


def test_a_reply_with_no_recent_reminder_is_an_ordinary_message(api, workspace, channel):
    with time_machine.travel(T0, tick=False):
        payload = {
            "id": "b1",
            "type": "appointment.booked",
            "contact": {"phone": PHONE},
            "data": {
                "appointment_id": "r",
                "starts_at": (START + dt.timedelta(days=5)).isoformat(),
            },
        }
        api.post("/api/v1/events", payload)
        assert reply(channel, "C").kind == ""  # only a booking confirmation went out
    assert Appointment.objects.get().status == "booked"


def test_a_reply_after_the_window_is_not_an_answer(reminded, channel):
    reminded.starts_at = REMINDED + dt.timedelta(days=5)
    reminded.save()
    with time_machine.travel(REMINDED + dt.timedelta(hours=49), tick=False):
        assert reply(channel, "A").kind == ""
    reminded.refresh_from_db()
    assert reminded.status == "booked"


def test_the_cancelled_reminder_run_and_replies_never_resend(reminded, channel):
    reply(channel, "A")
    with time_machine.travel(START - dt.timedelta(minutes=1), tick=False):
        assert runs_fire_due().sent == 0
    assert ScheduledRun.objects.filter(status=RunStatus.SENT).count() == 2


def test_a_question_sent_after_the_reminder_is_the_one_answered(reminded, channel, workspace):
    """A waitlist offer (or an alert) came after the reminder: "oui" is not for the reminder."""
    from comptoir.messaging.outbox import SendRequest, messages_send
    from comptoir.waitlist.texts import OFFER_KIND

    messages_send(
        workspace=workspace,
        requests=[SendRequest(to=PHONE, body="Un créneau demain 10h ? OUI", kind=OFFER_KIND)],
    )
    message = reply(channel, "Oui")
    assert message.kind != "appointment_reply"
    reminded.refresh_from_db()
    assert reminded.status == "booked"
    assert not Message.objects.filter(kind="appointment_answer").exists()
    reply(channel, "C")  # nor is a "C": the offer is the latest question
    assert Message.objects.get(direction=Direction.IN, body="C").kind == ""
    reminded.refresh_from_db()
    assert reminded.status == "booked"
