# ruff: noqa: F811 - the fixtures imported from tests.twilio_server are parameters here
"""Voice messages: a Message read aloud in a call, through the same outbox, compliance and
dispatcher as a text; the sandbox's simulated handset answers, presses keys or lets it
ring; Twilio's call form and callbacks move the message the same way."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from comptoir.channels.services import channel_create
from comptoir.contacts.models import Contact
from comptoir.core.errors import ValidationError
from comptoir.dispatch.dispatcher import dispatch_channel
from comptoir.dispatch.voice import call_keypresses
from comptoir.inbox.models import ConversationEvent, EventKind
from comptoir.messaging.models import CallEvent, Medium, Message, Status
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.sandbox.carrier import deliver_receipts
from comptoir.sandbox.models import CarrierMessage
from tests.conftest import grant_marketing
from tests.twilio_server import (  # noqa: F401 - fixtures
    fixture,
    post_hook,
    twilio_api,
    twilio_channel,
)

LANDLINE = "+33142685300"  # a Paris fixed line
MOBILE = "+33612345678"
REMINDER = "Rappel : rendez-vous demain à 10 h chez Optique Test. Tapez 1 pour confirmer."


def call(workspace, to=LANDLINE, body=REMINDER, purpose="transactional", **kwargs):
    request = SendRequest(to, body, purpose, medium="voice", **kwargs)
    return messages_send(workspace=workspace, requests=[request])[0].message


def pickup(client, number, call_id, action, digits=""):
    data = {"number": number, "call": call_id, "action": action, "digits": digits}
    return client.post("/sandbox/phone/pickup", data)


def ringing(message):
    return CarrierMessage.objects.get(reference=str(message.id))


def test_a_call_to_a_fixed_line_is_placed_and_answered_then_delivered(
    workspace, channel, staff_client
):
    message = call(workspace)
    assert (message.status, message.medium, message.segments) == (Status.QUEUED, "voice", 1)
    assert message.body == REMINDER  # read as written: no SMS encoding, no opt-out mention
    assert dispatch_channel(channel.id).sent == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    on_network = ringing(message)
    assert (on_network.medium, on_network.call_state) == ("voice", "ringing")
    assert (on_network.recipient, on_network.body) == (LANDLINE, REMINDER)
    assert on_network.provider_id == message.provider_id

    page = staff_client.get(f"/sandbox/phone/?number={LANDLINE}")
    assert "simulated text-to-speech" in page.content.decode()
    assert REMINDER.replace("à", "&agrave;") in page.content.decode() or REMINDER in (
        page.content.decode()
    )
    assert pickup(staff_client, LANDLINE, on_network.provider_id, "answer").status_code == 302
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert [e.status for e in CallEvent.objects.filter(message=message)] == ["completed"]
    history = list(message.transitions.order_by("at", "id").values_list("status", flat=True))
    assert history == ["queued", "sending", "sent", "delivered"]
    # Over: answering again changes nothing.
    pickup(staff_client, LANDLINE, on_network.provider_id, "answer")
    assert CallEvent.objects.filter(message=message).count() == 1


def test_a_call_nobody_answers_fails_after_the_ring_timeout(workspace, channel):
    message = call(workspace)
    dispatch_channel(channel.id)
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=10)):
        assert deliver_receipts()[0] == 0  # still ringing
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=31)):
        assert deliver_receipts()[0] == 1
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.FAILED, "no_answer")
    assert message.error_reason == "Nobody answered the call."
    assert ringing(message).call_state == "ended"


def test_a_declined_call_is_busy(workspace, channel, staff_client):
    message = call(workspace)
    dispatch_channel(channel.id)
    pickup(staff_client, LANDLINE, ringing(message).provider_id, "decline")
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.FAILED, "busy")
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=60)):
        assert deliver_receipts()[0] == 0  # the timeout no longer reports no-answer


def test_keys_pressed_are_kept_for_the_message_and_shown_in_the_conversation(
    workspace, channel, staff_client
):
    message = call(workspace, to=MOBILE, gather_digits=1)
    assert message.gather_digits == 1
    dispatch_channel(channel.id)
    call_id = ringing(message).provider_id
    pickup(staff_client, MOBILE, call_id, "answer")
    message.refresh_from_db()
    assert message.status == Status.SENT  # listening for the key
    page = staff_client.get(f"/sandbox/phone/thread?number={MOBILE}").content.decode()
    assert 'value="1"' in page and "Hang up" in page
    pickup(staff_client, MOBILE, call_id, "key", "1")
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert call_keypresses(workspace_id=workspace.id, message_ids=[message.id]) == {
        message.id: ["1"]
    }
    [shown] = ConversationEvent.objects.filter(kind=EventKind.CALL_ANSWERED)
    assert shown.conversation.contact_id == message.contact_id
    assert shown.data == {
        "direction": "out",
        "status": "keypress",
        "digits": "1",
        "message": str(message.id),
    }
    # Not a call the customer made to the shop: the simulator shows none.
    assert (
        "You called the shop"
        not in staff_client.get(f"/sandbox/phone/?number={MOBILE}").content.decode()
    )


def test_another_workspace_cannot_move_our_call(workspace, other_workspace, channel):
    from comptoir.channels.models import Channel
    from comptoir.dispatch.voice import call_events_apply
    from comptoir.providers.base import ChannelEvent

    message = call(workspace)
    dispatch_channel(channel.id)
    theirs = Channel.objects.get(workspace=other_workspace, provider="sandbox")
    event = ChannelEvent(
        "call_status", LANDLINE, theirs.address, "SBx:completed",
        {"status": "completed", "reference": str(message.id)},
    )  # fmt: skip
    call_events_apply(theirs, [event])
    message.refresh_from_db()
    assert message.status == Status.SENT


# -- compliance and validation ------------------------------------------------------------


def test_a_text_to_a_fixed_line_is_refused_but_a_call_is_not(workspace):
    text = messages_send(workspace=workspace, requests=[SendRequest(LANDLINE, "Bonjour")])[0]
    assert (text.message.status, text.message.error_code) == (Status.BLOCKED, "not_mobile")
    assert call(workspace, body="Bonjour").status == Status.QUEUED


def test_marketing_by_voice_needs_consent_and_gets_no_opt_out_mention(workspace):
    refused = call(workspace, body="Promo -20 % ce week-end.", purpose="marketing")
    assert (refused.status, refused.error_code) == (Status.BLOCKED, "no_consent")
    grant_marketing(workspace, [MOBILE])
    with time_machine.travel(dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC), tick=False):
        allowed = call(workspace, to=MOBILE, body="Promo -20 % ce week-end.", purpose="marketing")
    assert allowed.status == Status.QUEUED
    assert allowed.body == "Promo -20 % ce week-end."  # no "STOP" mention read aloud


def test_quiet_hours_hold_a_marketing_call_until_the_window_opens(workspace):
    grant_marketing(workspace, [MOBILE])
    late = dt.datetime(2026, 11, 24, 22, 30, tzinfo=dt.UTC)  # 23:30 in Paris, a Tuesday
    with time_machine.travel(late, tick=False):
        message = call(workspace, to=MOBILE, body="Promo -20 %", purpose="marketing")
    assert message.status == Status.QUEUED
    assert message.error_code == "quiet_hours" or message.send_at > late
    opening = message.send_at.astimezone(workspace.tz)
    assert (opening.date(), opening.hour) == (dt.date(2026, 11, 25), 8)


def test_a_service_call_is_not_held_at_night(workspace):
    late = dt.datetime(2026, 11, 24, 22, 30, tzinfo=dt.UTC)
    with time_machine.travel(late, tick=False):
        message = call(workspace)
    assert (message.status, message.send_at) == (Status.QUEUED, late)


def test_a_call_after_a_stop_is_refused_at_send_time(workspace, channel):
    from comptoir.compliance.consent import consent_record

    message = call(workspace, to=MOBILE)
    contact = Contact.objects.get(phone=MOBILE)
    consent_record(contact=contact, purposes=["service"], action="revoked", source="keyword")
    assert dispatch_channel(channel.id).blocked == 1
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.BLOCKED, "opted_out")
    assert not CarrierMessage.objects.exists()


@pytest.mark.parametrize(
    ("request_kwargs", "field"),
    [
        ({"medium": "fax"}, "medium"),
        ({"gather_digits": 1}, "gather_digits"),
        ({"medium": "voice", "gather_digits": 12}, "gather_digits"),
        ({"medium": "voice", "subject": "Hi"}, "subject"),
    ],
)
def test_bad_voice_requests_name_their_field(workspace, request_kwargs, field):
    with pytest.raises(ValidationError) as error:
        messages_send(
            workspace=workspace, requests=[SendRequest(MOBILE, "Bonjour", **request_kwargs)]
        )
    assert error.value.field == field
    assert not Message.objects.exists()


def test_a_call_on_a_channel_that_cannot_call_is_refused(workspace):
    email = channel_create(
        workspace=workspace, provider="email", name="Email", address="shop@example.com",
        config={"host": "127.0.0.1", "port": 2525}, secrets={},
    )  # fmt: skip
    with pytest.raises(ValidationError) as error:
        call(workspace, channel=str(email.id))
    assert error.value.field == "channel"


def test_the_same_call_asked_twice_is_one_message(workspace):
    first = call(workspace, idempotency_key="k1", gather_digits=1)
    again = call(workspace, idempotency_key="k1", gather_digits=1)
    assert first.id == again.id
    assert Message.objects.filter(medium=Medium.VOICE).count() == 1


# -- Twilio ------------------------------------------------------------------------------


def test_the_dispatcher_places_a_twilio_call_and_its_callbacks_settle_it(
    workspace, twilio_channel, twilio_api
):
    message = call(workspace, to=MOBILE, gather_digits=1, channel=str(twilio_channel.id))
    assert dispatch_channel(twilio_channel.id).sent == 1
    message.refresh_from_db()
    assert message.status == Status.SENT and message.provider_id.startswith("CA")
    [request] = twilio_api.requests
    assert request.path.endswith("/Calls.json")
    form = dict(request.form)
    assert form["To"] == MOBILE
    assert REMINDER.replace("à", "") in form["Twiml"].replace("à", "")
    assert form["StatusCallback"].endswith(f"/call-status?ref={message.id}")
    query = f"ref={message.id}"
    assert (
        post_hook(
            Client(), twilio_channel, "gather", fixture("gather-digits.txt"), query=query
        ).status_code
        == 200
    )
    body = fixture("call-status-completed.txt")
    assert post_hook(Client(), twilio_channel, "call-status", body, query=query).status_code == 200
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert call_keypresses(workspace_id=workspace.id, message_ids=[message.id]) == {
        message.id: ["1"]
    }


def test_a_twilio_call_nobody_answers_fails(workspace, twilio_channel, twilio_api):
    message = call(workspace, to=MOBILE, channel=str(twilio_channel.id))
    dispatch_channel(twilio_channel.id)
    body = fixture("call-status-no-answer.txt")
    query = f"ref={message.id}"
    post_hook(Client(), twilio_channel, "call-status", body, query=query)
    post_hook(Client(), twilio_channel, "call-status", body, query=query)  # delivered twice
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.FAILED, "no_answer")
    assert message.transitions.filter(status=Status.FAILED).count() == 1
