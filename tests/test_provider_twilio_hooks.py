# ruff: noqa: F811 - the fixtures imported from tests.twilio_server are parameters here
"""The Twilio adapter's webhooks (texts, statuses, calls), its outbound calls and logs.

Webhooks go through Django's test client to /hooks/<uuid>/<action>, signed the way
Twilio signs them, with Twilio's documented payload shapes (the fixture files); calls go
to `comptoir.providers.twilio.peer` on loopback.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.test import Client

from comptoir.compliance.consent import opted_out
from comptoir.compliance.models import ConsentEvent, ConsentSource
from comptoir.contacts.models import Contact
from comptoir.inbox.models import ConversationEvent, EventKind
from comptoir.messaging.models import Direction, Message, PendingReceipt
from comptoir.providers.base import Outcome, OutgoingMessage, VoiceCall
from comptoir.providers.registry import provider_type
from comptoir.providers.twilio import signature
from comptoir.providers.twilio.conformance import AUTH_TOKEN, CUSTOMER, SHOP
from tests.twilio_server import (  # noqa: F401 - fixtures
    SHOP_PHONE,
    fixture,
    post_hook,
    self_signed_https,
    twilio_api,
    twilio_channel,
)

TWILIO = provider_type("twilio")


def outgoing(to: str = CUSTOMER, body: str = "Vos lunettes sont prêtes.", ref: str = "m1"):
    return OutgoingMessage(ref, to, "", body, "gsm7", 1)


# -- webhooks -----------------------------------------------------------------------------


def test_an_inbound_sms_delivered_twice_is_stored_once(twilio_channel):
    client = Client()
    for _ in range(2):
        response = post_hook(client, twilio_channel, "receive", fixture("sms-received.txt"))
        assert response.status_code == 200
        assert response["Content-Type"] == "text/xml"
        assert response.content.endswith(b"<Response />")
    [message] = Message.objects.filter(channel=twilio_channel, direction=Direction.IN)
    assert message.provider_id == "SM5f3b4e1c2a7d4c0f9e8b7a6d5c4b3a21"
    assert message.body == "Bonjour, mes lunettes sont-elles prêtes ? & merci"
    assert message.contact.phone == CUSTOMER


@pytest.mark.parametrize("token", [None, "forged-token-123"])
def test_a_missing_or_forged_signature_is_refused_and_nothing_stored(twilio_channel, token):
    response = post_hook(
        Client(), twilio_channel, "receive", fixture("sms-received.txt"), token=token
    )
    assert response.status_code == 403
    assert not Message.objects.filter(direction=Direction.IN).exists()


def test_a_signature_for_other_parameters_is_refused(twilio_channel):
    body = fixture("sms-received.txt")
    url = f"http://testserver/hooks/{twilio_channel.id}/receive"
    header = signature.compute(AUTH_TOKEN, url, signature.form_params(body))
    tampered = body.replace(b"Bonjour", b"Bonsoir")
    response = Client().post(
        f"/hooks/{twilio_channel.id}/receive",
        data=tampered,
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=header,
    )
    assert response.status_code == 403


def test_a_signature_over_the_public_base_url_is_accepted(twilio_channel, settings):
    """Behind a proxy Django sees http://testserver, Twilio signed BASE_URL's address."""
    public = twilio_channel.hook_url("receive")
    assert not public.startswith("http://testserver")
    response = post_hook(
        Client(), twilio_channel, "receive", fixture("sms-received.txt"), signed_url=public
    )
    assert response.status_code == 200


def test_a_status_callback_for_an_unknown_message_creates_nothing(twilio_channel, caplog):
    before = Message.objects.count()
    with caplog.at_level(logging.DEBUG, logger="comptoir.messaging.inbound"):
        response = post_hook(Client(), twilio_channel, "status", fixture("status-delivered.txt"))
    assert response.status_code == 200
    assert Message.objects.count() == before
    assert "matched no message" in caplog.text
    # Kept a while in case its message's sid is being recorded right now (then dropped).
    assert (
        PendingReceipt.objects.filter(provider_id="SM2b7c9d1e3f5a4b6c8d0e2f4a6b8c0d1e").count() == 1
    )


def test_an_opt_out_reported_by_twilio_revokes_consent_once(workspace, twilio_channel):
    contact = Contact.objects.create(workspace=workspace, phone=CUSTOMER, number_type="mobile")
    for _ in range(2):
        response = post_hook(Client(), twilio_channel, "status", fixture("status-failed-21610.txt"))
        assert response.status_code == 200
    assert opted_out(contact)
    events = ConsentEvent.objects.filter(contact=contact)
    assert {e.purpose for e in events} == {"marketing", "service"}
    assert len(events) == 2  # one per purpose, the repeat ignored
    assert {e.source for e in events} == {ConsentSource.PROVIDER}
    assert events[0].proof["error_code"] == "21610"


def test_an_opt_out_for_a_number_we_do_not_know_records_nothing(twilio_channel):
    response = post_hook(Client(), twilio_channel, "status", fixture("status-failed-21610.txt"))
    assert response.status_code == 200
    assert not Contact.objects.filter(phone=CUSTOMER).exists()
    assert not ConsentEvent.objects.exists()


def test_a_call_rings_the_shop_and_no_answer_is_a_missed_call(twilio_channel):
    client = Client()
    response = post_hook(client, twilio_channel, "voice", fixture("voice-incoming.txt"))
    assert response.status_code == 200 and response["Content-Type"] == "text/xml"
    dial = _element(response.content, "Dial")
    assert dial.attrib == {
        "timeout": "25",
        "action": twilio_channel.hook_url("dial"),
        "method": "POST",
    }
    assert dial.text == SHOP_PHONE
    action = urlsplit(dial.attrib["action"])
    assert action.path == f"/hooks/{twilio_channel.id}/dial"
    for _ in range(2):  # Twilio retrying: one call recorded
        response = post_hook(client, twilio_channel, "dial", fixture("dial-no-answer.txt"))
        assert response.status_code == 200
        assert _element(response.content, "Hangup") is not None
    [call] = ConversationEvent.objects.filter(channel=twilio_channel)
    assert call.kind == EventKind.CALL_MISSED
    assert call.provider_id == "CA9e8d7c6b5a49382716f5e4d3c2b1a0f9"


def test_an_answered_call_is_recorded_as_answered(twilio_channel):
    response = post_hook(Client(), twilio_channel, "dial", fixture("dial-completed.txt"))
    assert response.status_code == 200
    [call] = ConversationEvent.objects.filter(channel=twilio_channel)
    assert call.kind == EventKind.CALL_ANSWERED


def test_a_call_without_a_shop_phone_is_refused_and_missed(twilio_channel):
    twilio_channel.config["forward_to"] = ""
    twilio_channel.save()
    response = post_hook(Client(), twilio_channel, "voice", fixture("voice-incoming.txt"))
    assert _element(response.content, "Reject").attrib == {"reason": "busy"}
    [call] = ConversationEvent.objects.filter(channel=twilio_channel)
    assert call.kind == EventKind.CALL_MISSED


def test_a_webhook_without_its_parameters_is_a_bad_request(twilio_channel):
    response = post_hook(Client(), twilio_channel, "status", b"MessageStatus=delivered")
    assert response.status_code == 400
    assert b"MessageSid" in response.content


# -- outbound calls -----------------------------------------------------------------------


def test_an_outbound_call_speaks_and_gathers_then_reports_the_key(twilio_channel, twilio_api):
    call = VoiceCall(
        reference="reminder-42",
        to=CUSTOMER,
        sender="",
        say_text="Rendez-vous demain à 10 h <Optique & Co>. Tapez 1 pour confirmer.",
        language="fr",
        gather_digits=1,
        timeout=20,
    )
    result = TWILIO.call(twilio_channel.as_config(), call)
    assert result.outcome is Outcome.SENT and result.provider_id.startswith("CA")
    [request] = twilio_api.requests
    assert request.path.endswith("/Calls.json")
    form = dict(request.form)
    assert (form["To"], form["From"], form["Timeout"]) == (CUSTOMER, SHOP, "20")
    assert form["StatusCallback"] == twilio_channel.hook_url("call-status") + "?ref=reminder-42"
    gather = _element(form["Twiml"].encode(), "Gather")
    assert gather.attrib["numDigits"] == "1"
    assert gather.attrib["action"] == twilio_channel.hook_url("gather") + "?ref=reminder-42"
    say = gather.find("Say")
    assert say is not None and say.attrib == {"language": "fr-FR"}
    assert say.text == call.say_text  # escaped in the XML, intact once read
    # Twilio posts the key press to the gather URL (query included in the signature).
    query = urlsplit(gather.attrib["action"]).query
    assert dict(parse_qsl(query)) == {"ref": "reminder-42"}
    response = post_hook(
        Client(), twilio_channel, "gather", fixture("gather-digits.txt"), query=query
    )
    assert response.status_code == 200
    assert _element(response.content, "Hangup") is not None


def test_a_call_refused_by_twilio_has_the_send_outcomes(twilio_channel, twilio_api):
    twilio_api.behave("reject:21211")
    call = VoiceCall("r1", "+336", "", "Bonjour", "fr")
    result = TWILIO.call(twilio_channel.as_config(), call)
    assert (result.outcome, result.error_code) == (Outcome.REJECTED, "21211")


# -- secrets ------------------------------------------------------------------------------


def test_the_token_never_reaches_a_log(twilio_channel, twilio_api, caplog):
    config = twilio_channel.as_config()
    client = Client()
    reasons = []
    with caplog.at_level(logging.DEBUG):
        for behaviour in ("accept", "reject:21211", "unauthorized", "throttle", "error", "drop"):
            twilio_api.behave(behaviour)
            reasons.append(TWILIO.send(config, outgoing()).reason)
        for token in (None, "forged-token-123", AUTH_TOKEN):
            post_hook(client, twilio_channel, "receive", fixture("sms-received.txt"), token=token)
        post_hook(client, twilio_channel, "status", b"MessageStatus=delivered")
    texts = [r.getMessage() for r in caplog.records] + reasons
    assert any("refused receive hook" in t for t in texts)  # the log did run
    assert not [t for t in texts if AUTH_TOKEN in t]


def _element(document: bytes, tag: str):
    from xml.etree.ElementTree import fromstring

    root = fromstring(document)
    assert root.tag == "Response"
    return root.find(f".//{tag}")
