# ruff: noqa: F811 - the fixtures imported from tests.twilio_server are parameters here
"""The Twilio adapter against a real local HTTP server that answers like Twilio's API.

Sends go through the adapter's own HTTP client to `comptoir.providers.twilio.peer` on
loopback; webhooks go through Django's test client to /hooks/<uuid>/<action>, signed the
way Twilio signs them. Payloads are the fixture files (Twilio's documented shapes).
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import replace

import pytest
from django.test import Client
from huey.contrib.djhuey import HUEY

from comptoir.benchmarks import twilio as bench
from comptoir.compliance.consent import consent_state
from comptoir.compliance.models import ConsentEvent
from comptoir.dispatch.dispatcher import dispatch_channel
from comptoir.messaging.models import Message, Status
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.providers.base import Outcome, OutgoingMessage
from comptoir.providers.registry import provider_type
from comptoir.providers.twilio import signature
from comptoir.providers.twilio.conformance import AUTH_TOKEN, CUSTOMER, SHOP
from comptoir.providers.twilio.outcomes import result_for
from comptoir.providers.twilio.rest import Response
from comptoir.workspaces.models import Workspace
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


# -- the signature ------------------------------------------------------------------------


def test_signature_matches_twilios_documented_example():
    """The example in Twilio's security documentation, token 12345."""
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]
    assert signature.compute("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    # Signed with the port written out, checked without it (and the reverse).
    ported = signature.compute("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", params)
    assert signature.is_valid("12345", [url], params, ported)
    assert not signature.is_valid("12345", [url], params, "RSOYDt4T1cUTdK1PDd93/VVr8B8")
    assert not signature.is_valid("12345", [url], params[1:], "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert not signature.is_valid("", [url], params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


# -- sending ------------------------------------------------------------------------------


def test_a_send_posts_twilios_documented_form_and_returns_the_sid(twilio_channel, twilio_api):
    result = TWILIO.send(twilio_channel.as_config(), outgoing())
    assert result.outcome is Outcome.SENT
    assert result.provider_id.startswith("SM") and len(result.provider_id) == 34
    [request] = twilio_api.requests
    assert request.method == "POST"
    assert (
        request.path == f"/2010-04-01/Accounts/{twilio_channel.config['account_sid']}/Messages.json"
    )
    assert dict(request.form) == {
        "To": CUSTOMER,
        "Body": "Vos lunettes sont prêtes.",
        "From": SHOP,
        "StatusCallback": twilio_channel.hook_url("status"),
    }
    assert request.headers["authorization"].startswith("Basic ")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


def test_a_messaging_service_sends_instead_of_the_number(twilio_channel, twilio_api):
    twilio_channel.config["messaging_service_sid"] = "MG" + "0" * 32
    twilio_channel.save()
    assert TWILIO.send(twilio_channel.as_config(), outgoing()).outcome is Outcome.SENT
    form = dict(twilio_api.requests[0].form)
    assert form["MessagingServiceSid"] == "MG" + "0" * 32
    assert "From" not in form


@pytest.mark.parametrize(
    ("behaviour", "outcome", "code"),
    [
        ("reject:21211", Outcome.REJECTED, "21211"),
        ("reject:21614", Outcome.REJECTED, "21614"),
        ("reject:21610", Outcome.CONTACT_STOPPED, "21610"),
        ("unauthorized", Outcome.CONFIG_ERROR, "20003"),
        ("throttle", Outcome.THROTTLED, "20429"),
        ("error", Outcome.RETRY, "20500"),
        ("drop", Outcome.UNCONFIRMED, "send_unconfirmed"),  # maybe sent: never again
    ],
)
def test_every_answer_maps_to_its_outcome(twilio_channel, twilio_api, behaviour, outcome, code):
    twilio_api.behave(behaviour)
    result = TWILIO.send(twilio_channel.as_config(), outgoing())
    assert (result.outcome, result.error_code) == (outcome, code)
    assert result.reason and not result.provider_id
    if outcome is Outcome.THROTTLED:
        assert result.retry_after == 2.0  # the server's Retry-After
    assert len(twilio_api.requests) == 1


def test_wrong_credentials_are_a_configuration_error(twilio_channel, twilio_api):
    """The server checks basic auth like Twilio: a wrong token gets its 401."""
    config = replace(twilio_channel.as_config(), secrets={"auth_token": "not-the-token"})
    result = TWILIO.send(config, outgoing())
    assert (result.outcome, result.error_code) == (Outcome.CONFIG_ERROR, "20003")


def test_a_server_that_is_down_means_retry_and_the_batch_stops_trying(twilio_channel):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = twilio_channel.as_config()
    down = {"api_base_url": f"http://127.0.0.1:{port}", "connections": 1}
    config = replace(config, config={**config.config, **down})
    results = TWILIO.send_many(config, [outgoing(ref=str(i)) for i in range(3)])
    assert [r.outcome for r in results] == [Outcome.RETRY] * 3
    assert results[0].error_code == "connection_failed"
    assert all(r.reason.startswith("not tried") for r in results[1:])


def test_tls_certificates_are_verified(twilio_channel, tmp_path):
    """An HTTPS server with a certificate no authority signed is never sent to."""
    with self_signed_https(tmp_path) as url:
        config = twilio_channel.as_config()
        config = replace(config, config={**config.config, "api_base_url": url})
        result = TWILIO.send(config, outgoing())
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "connection_failed")
    assert "CERTIFICATE_VERIFY_FAILED" in result.reason


def test_a_throttled_batch_stops_and_the_rest_wait(twilio_channel, twilio_api):
    twilio_api.script("accept", "throttle")
    config = twilio_channel.as_config()
    config = replace(config, config={**config.config, "connections": 1})
    results = TWILIO.send_many(config, [outgoing(ref=str(i)) for i in range(5)])
    assert [r.outcome for r in results] == [Outcome.SENT] + [Outcome.THROTTLED] * 4
    assert len(twilio_api.requests) == 2  # the three others were not tried
    assert all(r.retry_after == 2.0 for r in results[1:])


def test_a_batch_reuses_a_few_kept_alive_connections(twilio_channel, twilio_api):
    config = twilio_channel.as_config()
    config = replace(config, config={**config.config, "connections": 3})
    messages = [outgoing(to=f"+336123400{i:02d}", ref=str(i)) for i in range(60)]
    for _ in range(2):
        results = TWILIO.send_many(config, messages)
    assert all(r.outcome is Outcome.SENT for r in results)
    # Spread over connections, yet result i is message i's.
    assert [twilio_api.created[r.provider_id]["To"] for r in results] == [m.to for m in messages]
    assert len(twilio_api.requests) == 120
    assert twilio_api.connections <= 3


def test_one_customers_texts_leave_in_order_on_parallel_connections(twilio_channel, twilio_api):
    config = twilio_channel.as_config()
    config = replace(config, config={**config.config, "connections": 4})
    messages = [
        outgoing(to=CUSTOMER if i % 2 else f"+336123411{i:02d}", body=f"texte {i}", ref=str(i))
        for i in range(40)
    ]
    TWILIO.send_many(config, messages)
    theirs = [r.value("Body") for r in twilio_api.requests if r.value("To") == CUSTOMER]
    assert theirs == [f"texte {i}" for i in range(1, 40, 2)]


def test_a_dropped_connection_is_not_reused(twilio_channel, twilio_api):
    config = twilio_channel.as_config()
    twilio_api.script("drop")
    assert TWILIO.send(config, outgoing()).error_code == "send_unconfirmed"
    assert TWILIO.send(config, outgoing()).outcome is Outcome.SENT
    assert twilio_api.connections == 2


def test_a_connection_the_server_closed_while_idle_is_replaced_not_failed(
    twilio_channel, twilio_api
):
    config = twilio_channel.as_config()
    assert TWILIO.send(config, outgoing()).outcome is Outcome.SENT
    twilio_api.hang_up()
    time.sleep(0.05)  # the FIN reaches our idle socket
    assert TWILIO.send(config, outgoing()).outcome is Outcome.SENT
    assert twilio_api.connections == 2


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"account_sid": "AC123"}, "account SID must be AC followed by 32"),
        ({"messaging_service_sid": "MG1"}, "messaging service SID must be MG"),
        ({"api_base_url": "ftp://x"}, "API base URL must be http(s)://host"),
        ({"connections": 0}, "between 1 and 32"),
        ({"forward_to": "06 11 22 33 44"}, "international form"),
    ],
)
def test_bad_settings_are_named_and_nothing_is_sent(twilio_channel, twilio_api, config, problem):
    channel = twilio_channel.as_config()
    channel = replace(channel, config={**channel.config, **config})
    assert problem in (TWILIO.check_credentials(channel) or "")
    if "forward_to" not in config:
        result = TWILIO.send(channel, outgoing())
        assert result.outcome is Outcome.CONFIG_ERROR and problem in result.reason
        assert twilio_api.requests == []


def test_the_token_never_shows_in_a_reason():
    body = b'{"code": 20003, "message": "Authenticate with twilio-auth-token-5e1f0c9d"}'
    result = result_for(Response(401, {}, body), redact=(AUTH_TOKEN,))
    assert AUTH_TOKEN not in result.reason
    assert "[redacted]" in result.reason


def test_the_dispatcher_sends_through_twilio_and_the_receipt_delivers(
    workspace, twilio_channel, twilio_api
):
    [enqueued] = messages_send(
        workspace=workspace,
        requests=[
            SendRequest(
                CUSTOMER,
                "Votre commande est prête.",
                "transactional",
                channel=str(twilio_channel.id),
            )
        ],
    )
    report = dispatch_channel(twilio_channel.id)
    assert report.sent == 1
    message = Message.objects.get(id=enqueued.message.id)
    assert message.status == Status.SENT
    assert twilio_api.created[message.provider_id]["Body"] == "Votre commande est prête."
    body = fixture("status-delivered.txt").replace(
        b"SM2b7c9d1e3f5a4b6c8d0e2f4a6b8c0d1e", message.provider_id.encode()
    )
    assert post_hook(Client(), twilio_channel, "status", body).status_code == 200
    message.refresh_from_db()
    assert message.status == Status.DELIVERED


def test_a_recipient_who_stopped_fails_the_message_for_good(workspace, twilio_channel, twilio_api):
    twilio_api.behave("reject:21610")
    [enqueued] = messages_send(
        workspace=workspace,
        requests=[SendRequest(CUSTOMER, "Promo", "transactional", channel=str(twilio_channel.id))],
    )
    dispatch_channel(twilio_channel.id)
    message = Message.objects.get(id=enqueued.message.id)
    assert (message.status, message.error_code) == (Status.FAILED, "21610")
    # Twilio will refuse every text to them: recorded as an opt-out, once.
    revoked = ConsentEvent.objects.filter(contact=message.contact, action="revoked")
    assert sorted(e.purpose for e in revoked) == ["marketing", "service"]
    assert {(e.source, e.proof["message_id"]) for e in revoked} == {("provider", str(message.id))}
    assert consent_state([message.contact_id])[(message.contact_id, "marketing")] == "revoked"


def test_a_lost_answer_is_never_sent_again(workspace, twilio_channel, twilio_api):
    """Twilio may have the message: one request, whatever the dispatcher does next."""
    twilio_api.script("drop")
    [enqueued] = messages_send(
        workspace=workspace,
        requests=[SendRequest(CUSTOMER, "Rappel", "transactional", channel=str(twilio_channel.id))],
    )
    dispatch_channel(twilio_channel.id)
    dispatch_channel(twilio_channel.id)
    message = Message.objects.get(id=enqueued.message.id)
    assert (message.status, message.error_code) == (Status.UNKNOWN, "send_unconfirmed")
    assert "may have been sent" in message.error_reason
    assert len(twilio_api.requests) == 1


# -- the benchmark ------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_benchmark_runs_tiny_and_cleans_up():
    """Timings are never asserted; what it counts and what it leaves behind are."""
    HUEY.immediate = False
    HUEY.flush()
    try:
        lines = bench.run({"messages": 30, "rounds": 1, "connections": 2, "workers": 1})
    finally:
        HUEY.flush()
        HUEY.immediate = True
    assert lines[0].startswith("twilio: 30 messages x 1 round(s)")
    assert "adapter send_many" in lines[1] and "sends/s" in lines[1]
    assert lines[2].startswith("  connections opened      2 per round")
    assert "pipeline, all sent" in lines[3]
    assert not Workspace.objects.filter(name__startswith="Benchmark Twilio").exists()
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"messages": 0}, "messages must be a whole number from 1"),
        ({"connections": 99}, "connections must be a whole number from 1 to 32"),
        ({"rounds": "3"}, "rounds must be a whole number"),
        ({"threads": 2}, "unknown option(s): threads"),
    ],
)
def test_the_benchmark_names_a_bad_option(options, error):
    with pytest.raises(ValueError, match=re.escape(error)):
        bench.run(options)
