"""Outgoing webhooks, against a real HTTP server on loopback."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction
from huey.contrib.djhuey import HUEY

from comptoir.messaging.models import Direction, Message
from comptoir.sandbox.carrier import customer_texts
from comptoir.webhooks import delivery
from comptoir.webhooks.delivery import MAX_ATTEMPTS, deliveries_send_due
from comptoir.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from comptoir.webhooks.services import (
    EVENT_TYPES,
    webhook_emit,
    webhook_endpoint_create,
)
from comptoir.webhooks.tasks import webhooks_sweep_task

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver: records every request, answers from a script (then 200)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    script: list[Any] = field(default_factory=list)
    default: Any = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self) -> Any:
        with self.lock:
            return self.script.pop(0) if self.script else self.default


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = receiver.next_answer()
            with receiver.lock:
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
            if isinstance(answer, tuple) and answer[0] == "sleep":
                time.sleep(answer[1])
                answer = 200
            self.send_response(answer)
            if 300 <= answer < 400:
                self.send_header("Location", receiver.url + "elsewhere")
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"receiver says hello")

        def log_message(self, *args: Any) -> None:
            pass

        def handle(self) -> None:
            # The sender gave up (its timeout): that is the point of some tests.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super().handle()

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/comptoir/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def dead_url() -> str:
    """A loopback port nobody listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def verify(secret: str, request: Received, tolerance: int = 300) -> bool:
    """What docs/webhooks.md tells receivers to do."""
    parts = dict(p.split("=", 1) for p in request.headers["X-Comptoir-Signature"].split(","))
    signed = parts["t"].encode() + b"." + request.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(parts["t"])) <= tolerance
    return fresh and hmac.compare_digest(expected, parts["v1"])


def test_a_customer_text_becomes_one_signed_post(
    workspace, channel, receiver, django_capture_on_commit_callbacks
):
    endpoint, secret = webhook_endpoint_create(
        workspace=workspace, url=receiver.url, events=["message.received"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = customer_texts(channel=channel, sender="+33611111111", text="Mes lunettes ?")
    assert result.status == 200
    # The wake-up after commit ran the delivery task (Huey is inline in tests).
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert verify(secret, request)
    assert not verify("whsec_wrong", request)
    assert request.path == "/hooks/comptoir/"
    assert request.headers["X-Comptoir-Event"] == "message.received"
    assert request.headers["Content-Type"] == "application/json"
    body = request.json
    assert request.headers["X-Comptoir-Delivery"] == body["id"]
    assert (body["type"], body["workspace"]) == ("message.received", str(workspace.id))
    message = Message.objects.get(direction=Direction.IN)
    data = body["data"]
    assert data["message_id"] == str(message.id)
    assert data["conversation_id"] == str(message.contact.conversations.get().id)
    assert data["channel_id"] == str(channel.id)
    assert data["contact"] == {
        "id": str(message.contact_id),
        "phone": "+33611111111",
        "name": "",
        "is_prospect": True,
    }
    assert (data["sender"], data["body"], data["keyword"]) == (
        "+33611111111",
        "Mes lunettes ?",
        None,
    )
    assert dt.datetime.fromisoformat(data["received_at"]) == message.send_at
    sent = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (sent.status, sent.attempts, sent.last_status_code) == ("delivered", 1, 200)
    assert deliveries_send_due().delivered == 0  # nothing is sent twice
    assert len(receiver.requests) == 1


def test_a_stop_says_which_keyword_and_a_sender_name_has_no_contact(workspace, channel):
    webhook_endpoint_create(workspace=workspace, url="https://example.com/in", events=["*"])
    customer_texts(channel=channel, sender="+33611111111", text="STOP")
    customer_texts(channel=channel, sender="AMAZON", text="Votre colis arrive")
    stop, amazon = (d.payload for d in WebhookDelivery.objects.order_by("created_at"))
    assert (stop["keyword"], stop["contact"]["phone"]) == ("opt_out", "+33611111111")
    assert (amazon["contact"], amazon["sender"], amazon["keyword"]) == (None, "AMAZON", None)
    assert amazon["conversation_id"] is not None


def test_a_failing_receiver_is_retried_with_backoff_then_delivered(workspace, channel, receiver):
    receiver.script = [500, 503]
    endpoint, secret = webhook_endpoint_create(
        workspace=workspace, url=receiver.url, events=["message.received"]
    )
    with time_machine.travel(T0, tick=False) as clock:
        customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
        deliveries_send_due()
        sent = WebhookDelivery.objects.get(endpoint=endpoint)
        assert (sent.status, sent.attempts, sent.last_status_code) == ("pending", 1, 500)
        assert sent.last_error.startswith("HTTP 500")
        assert "receiver says hello" in sent.last_error
        assert sent.next_attempt_at == T0 + dt.timedelta(seconds=30)
        clock.shift(dt.timedelta(seconds=29))
        webhooks_sweep_task.call_local()
        assert len(receiver.requests) == 1  # not due yet
        clock.shift(dt.timedelta(seconds=1))
        webhooks_sweep_task.call_local()
        sent.refresh_from_db()
        assert (sent.attempts, sent.last_status_code) == (2, 503)
        assert sent.next_attempt_at == T0 + dt.timedelta(seconds=30 + 120)
        clock.shift(dt.timedelta(seconds=120))
        webhooks_sweep_task.call_local()
    sent.refresh_from_db()
    assert (sent.status, sent.attempts, sent.last_status_code) == ("delivered", 3, 200)
    assert sent.delivered_at == T0 + dt.timedelta(seconds=150)
    assert sent.last_error == ""
    # Every attempt carries the same event id and body, each freshly signed.
    assert len({r.headers["X-Comptoir-Delivery"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    assert [r.headers["X-Comptoir-Attempt"] for r in receiver.requests] == ["1", "2", "3"]
    assert all(
        verify(secret, r, tolerance=10**9) for r in receiver.requests
    )  # signed at T0 (frozen)


def test_a_delivery_fails_for_good_after_the_last_attempt(workspace, channel, receiver, caplog):
    receiver.default = 500
    endpoint, _secret = webhook_endpoint_create(
        workspace=workspace, url=receiver.url, events=["message.received"]
    )
    with time_machine.travel(T0, tick=False) as clock:
        customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
        for _ in range(MAX_ATTEMPTS + 2):
            webhooks_sweep_task.call_local()
            clock.shift(dt.timedelta(hours=7))
    sent = WebhookDelivery.objects.get(endpoint=endpoint)
    assert MAX_ATTEMPTS == 8
    assert (sent.status, sent.attempts) == (DeliveryStatus.FAILED, 8)
    assert len(receiver.requests) == 8
    # This module's warnings only: the test session's other threads may log their own.
    warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith("comptoir.webhooks")
    ]
    assert len(warnings) == 1 and "attempt 8" in warnings[0].getMessage()


def test_a_redirect_is_an_answer_not_followed(workspace, channel, receiver):
    receiver.script = [302]
    endpoint, _ = webhook_endpoint_create(workspace=workspace, url=receiver.url, events=["*"])
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    deliveries_send_due()
    sent = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (sent.status, sent.last_status_code) == ("pending", 302)
    assert [r.path for r in receiver.requests] == ["/hooks/comptoir/"]


def test_private_addresses_are_refused_when_the_installation_says_so(
    workspace, channel, receiver, settings
):
    settings.COMPTOIR_WEBHOOKS_ALLOW_PRIVATE = False
    endpoint, _ = webhook_endpoint_create(workspace=workspace, url=receiver.url, events=["*"])
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    deliveries_send_due()
    sent = WebhookDelivery.objects.get(endpoint=endpoint)
    assert sent.last_error.startswith("refused: 127.0.0.1 resolves to the private address")
    assert receiver.requests == []


def test_a_slow_receiver_times_out_and_is_not_called_again_in_the_same_run(
    workspace, channel, receiver, monkeypatch
):
    monkeypatch.setattr(delivery, "TIMEOUT", 0.5)
    receiver.default = ("sleep", 3)
    endpoint, _ = webhook_endpoint_create(workspace=workspace, url=receiver.url, events=["*"])
    customer_texts(channel=channel, sender="+33611111111", text="un")
    customer_texts(channel=channel, sender="+33622222222", text="deux")
    started = time.monotonic()
    report = deliveries_send_due()
    assert time.monotonic() - started < 2.0
    assert (report.retried, report.delivered) == (2, 0)
    first, second = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("created_at")
    assert first.last_error == "timed out after 0.5 s"
    assert second.last_error.startswith("not tried: timed out after 0.5 s")
    assert (first.attempts, second.attempts, first.last_status_code) == (1, 1, None)
    assert len(receiver.requests) == 1


def test_a_dead_receiver_never_blocks_or_fails_the_inbound_webhook(
    workspace, channel, receiver, django_capture_on_commit_callbacks
):
    # A receiver that hangs, and a real queue: the inbound path only writes a row.
    receiver.default = ("sleep", 10)
    webhook_endpoint_create(workspace=workspace, url=receiver.url, events=["*"])
    HUEY.immediate = False
    try:
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            result = customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
        elapsed = time.monotonic() - started
        queued = HUEY.pending_count()
    finally:
        HUEY.flush()
        HUEY.immediate = True
    assert result.status == 200 and elapsed < 1.0
    assert queued >= 1  # a delivery run was queued for a worker
    assert Message.objects.filter(direction=Direction.IN, body="Bonjour").count() == 1
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING
    assert receiver.requests == []


def test_a_refused_connection_inline_still_answers_the_provider(
    workspace, channel, dead_url, django_capture_on_commit_callbacks
):
    endpoint, _ = webhook_endpoint_create(workspace=workspace, url=dead_url, events=["*"])
    with django_capture_on_commit_callbacks(execute=True):
        result = customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    assert result.status == 200
    assert Message.objects.filter(direction=Direction.IN).count() == 1
    sent = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (sent.status, sent.attempts) == ("pending", 1)
    assert sent.last_error.startswith("connection failed: ConnectionRefusedError")


def test_an_error_while_recording_webhooks_never_loses_the_message(workspace, channel, monkeypatch):
    webhook_endpoint_create(workspace=workspace, url="https://example.com/in", events=["*"])

    def broken(*args: Any, **kwargs: Any) -> None:
        WebhookDelivery.objects.create(workspace=workspace)  # fails: NOT NULL columns
        raise AssertionError("unreachable")

    monkeypatch.setattr("comptoir.webhooks.events.webhooks_emit", broken)
    result = customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    assert result.status == 200
    assert Message.objects.filter(direction=Direction.IN).count() == 1
    assert WebhookDelivery.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_never_post_a_delivery_twice(workspace, receiver, monkeypatch):
    monkeypatch.setattr(delivery, "deliveries_wake", lambda: False)  # the runs below do it
    receiver.default = ("sleep", 0.02)
    webhook_endpoint_create(workspace=workspace, url=receiver.url, events=["*"])
    with transaction.atomic():
        for i in range(40):
            webhook_emit(workspace, "message.received", {"n": i})

    def run() -> None:
        try:
            deliveries_send_due(batch=4)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [r.headers["X-Comptoir-Delivery"] for r in receiver.requests]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert WebhookDelivery.objects.filter(status="delivered", attempts=1).count() == 40


def test_secrets_never_appear_in_logs_or_errors(workspace, channel, receiver, dead_url, caplog):
    caplog.set_level(logging.DEBUG)
    receiver.script = [500]
    _good, secret = webhook_endpoint_create(workspace=workspace, url=receiver.url, events=["*"])
    _dead, dead_secret = webhook_endpoint_create(workspace=workspace, url=dead_url, events=["*"])
    with time_machine.travel(T0, tick=False) as clock:
        customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
        for _ in range(3):
            deliveries_send_due()
            clock.shift(dt.timedelta(hours=1))
    signatures = [r.headers["X-Comptoir-Signature"].split("v1=")[1] for r in receiver.requests]
    assert len(signatures) == 2  # 500, then 200
    stored = " ".join(
        f"{d.last_error} {d.payload}" for d in WebhookDelivery.objects.all()
    ) + " ".join(WebhookEndpoint.objects.values_list("secret", flat=True))
    for text in (caplog.text, stored):
        for value in (secret, dead_secret, *signatures):
            assert value not in text
    assert "attempt 1" in caplog.text  # the logs did say something


def test_events_go_only_to_active_endpoints_that_subscribed(
    workspace, other_workspace, channel, monkeypatch
):
    monkeypatch.setitem(EVENT_TYPES, "appointment.confirmed", "An appointment was confirmed.")
    url = "https://example.com/in"
    messages_only, _ = webhook_endpoint_create(
        workspace=workspace, url=url, events=["message.received"]
    )
    everything, _ = webhook_endpoint_create(workspace=workspace, url=url, events=["*"])
    appointments, _ = webhook_endpoint_create(
        workspace=workspace, url=url, events=["appointment.*"]
    )
    webhook_endpoint_create(workspace=workspace, url=url, events=["*"], active=False)
    webhook_endpoint_create(workspace=other_workspace, url=url, events=["*"])

    rows = webhook_emit(workspace, "appointment.confirmed", {"appointment_id": 7})
    assert {r.endpoint_id for r in rows} == {everything.id, appointments.id}
    assert len({r.event_id for r in rows}) == 1  # one event, one id for every receiver
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    received = WebhookDelivery.objects.filter(event_type="message.received")
    assert set(received.values_list("endpoint_id", flat=True)) == {messages_only.id, everything.id}
    assert WebhookDelivery.objects.filter(workspace=other_workspace).count() == 0
    with pytest.raises(ValueError, match="unregistered"):
        webhook_emit(workspace, "appointment.teleported", {})


def test_a_paused_endpoint_keeps_its_deliveries_until_it_is_active_again(
    workspace, channel, receiver
):
    endpoint, _ = webhook_endpoint_create(workspace=workspace, url=receiver.url, events=["*"])
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    WebhookEndpoint.objects.filter(id=endpoint.id).update(active=False)
    assert deliveries_send_due().delivered == 0
    WebhookEndpoint.objects.filter(id=endpoint.id).update(active=True)
    assert deliveries_send_due().delivered == 1
    assert len(receiver.requests) == 1
