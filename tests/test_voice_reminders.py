"""A reminder by phone call: read with keys in place of "C / A", 1 confirms, 2 cancels."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from comptoir.automations.firing import runs_fire_due
from comptoir.automations.models import Appointment, RunStatus, ScheduledRun
from comptoir.automations.voice_replies import spoken_reminder
from comptoir.messaging.inbound import events_store
from comptoir.providers.base import ChannelEvent
from comptoir.webhooks.models import WebhookDelivery
from comptoir.webhooks.services import webhook_endpoint_create

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
START = dt.datetime(2026, 11, 24, 14, 30, tzinfo=dt.UTC)
LANDLINE = "+33472000000"  # a fixed line in Lyon


@pytest.mark.parametrize(
    ("body", "language", "said"),
    [
        (
            "Optique : RDV demain à 15:30. Répondez C pour confirmer, A pour annuler.",
            "fr",
            "Optique : RDV demain à 15:30. Appuyez sur 1 pour confirmer, sur 2 pour annuler.",
        ),
        (
            "Shop: see you tomorrow at 3:30 pm. Reply C to confirm, A to cancel.",
            "en",
            "Shop: see you tomorrow at 3:30 pm. Press 1 to confirm, 2 to cancel.",
        ),
        ("RDV demain à 15:30.", "fr", "RDV demain à 15:30. Appuyez sur 1 pour confirmer, "
         "sur 2 pour annuler."),
    ],
)  # fmt: skip
def test_the_texting_instruction_becomes_keys(body, language, said):
    assert spoken_reminder(body, language) == said


@pytest.fixture
def called(api, workspace, channel):
    """A landline customer's reminder went as a call; the clock is at the reminder."""
    webhook_endpoint_create(workspace=workspace, url="https://shop.example/hook", events=["*"])
    with time_machine.travel(T0, tick=False):
        payload = {
            "id": "b1",
            "type": "appointment.booked",
            "contact": {"phone": LANDLINE},
            "data": {"appointment_id": "rdv-1", "starts_at": START.isoformat()},
        }
        assert api.post("/api/v1/events", payload).status_code == 202
    with time_machine.travel(START - dt.timedelta(hours=24), tick=False) as traveller:
        assert runs_fire_due().sent == 1
        traveller.shift(dt.timedelta(minutes=2))
        yield ScheduledRun.objects.get(rule__key="appointment_reminder")


def press(channel, run, digits: str, provider_id: str = "CA1:gather") -> None:
    event = ChannelEvent(
        kind="call_keypress",
        sender=LANDLINE,
        recipient=channel.address,
        provider_id=provider_id,
        extra={"digits": digits, "reference": str(run.message_id), "call_id": "CA1"},
    )
    events_store(channel=channel, events=[event])


def test_the_call_listens_for_one_key(called):
    message = called.message
    assert (message.medium, message.gather_digits) == ("voice", 1)
    assert "Appuyez sur 1" in message.body and "Répondez C" not in message.body


@pytest.mark.parametrize(("digits", "status"), [("1", "confirmed"), ("2", "cancelled")])
def test_a_key_answers_the_reminder_and_tells_the_shop(called, channel, digits, status):
    press(channel, called, digits)
    appointment = Appointment.objects.get()
    assert appointment.status == status
    delivery = WebhookDelivery.objects.get(event_type=f"appointment.{status}")
    assert delivery.payload["source"] == "call"
    assert delivery.payload["appointment_id"] == str(appointment.id)


def test_another_key_or_another_workspaces_call_changes_nothing(called, channel, other_workspace):
    press(channel, called, "5")
    other_channel = other_workspace.channels.get(provider="sandbox")
    press(other_channel, called, "2", provider_id="CA2:gather")
    assert Appointment.objects.get().status == "booked"
    assert not WebhookDelivery.objects.filter(event_type__startswith="appointment.").exists()


def test_cancelling_by_key_cancels_the_pending_runs(called, channel):
    assert called.status == RunStatus.SENT
    press(channel, called, "2")
    assert not ScheduledRun.objects.filter(status=RunStatus.PENDING).exists()
