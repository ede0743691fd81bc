"""The WSGI application: providers' webhooks take a path without the site's middleware."""

from __future__ import annotations

import io
import json
import uuid
from wsgiref.util import setup_testing_defaults

from django.core import signals
from django.db import close_old_connections

from comptoir.config.wsgi import application
from comptoir.messaging.models import Direction, Message
from comptoir.providers.sandbox.type import SIGNATURE_HEADER, sign


def call(path: str, *, method: str = "GET", body: bytes = b"", headers=None):
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update(
        REQUEST_METHOD=method,
        PATH_INFO=path,
        CONTENT_LENGTH=str(len(body)),
        CONTENT_TYPE="application/json",
        SERVER_NAME="127.0.0.1",
        HTTP_HOST="127.0.0.1",
    )
    environ["wsgi.input"] = io.BytesIO(body)
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    answer: dict = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    # As Django's test client does: the test's connection holds its transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        result = application(environ, start_response)
        answer["body"] = b"".join(result)
        getattr(result, "close", lambda: None)()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return answer


def test_a_signed_text_is_stored_and_answered_with_its_length(channel, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    secret = channel.as_config().secrets["webhook_secret"]
    payload = {"id": "wsgi-1", "from": "+33612345678", "to": channel.address, "text": "Bonjour"}
    body = json.dumps(payload).encode()
    answer = call(
        f"/hooks/{channel.id}/receive",
        method="POST",
        body=body,
        headers={SIGNATURE_HEADER: sign(secret, body)},
    )
    assert answer["status"] == 200
    assert answer["headers"]["Content-Length"] == str(len(answer["body"]))
    assert "Set-Cookie" not in answer["headers"] and "Vary" not in answer["headers"]
    assert Message.objects.filter(channel=channel, direction=Direction.IN).count() == 1


def test_an_unknown_channel_or_a_forged_signature_is_refused_there_too(channel, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    assert call(f"/hooks/{uuid.uuid4()}/receive", method="POST", body=b"{}")["status"] == 404
    body = json.dumps({"id": "wsgi-2", "from": "+33612345678", "text": "x"}).encode()
    forged = call(
        f"/hooks/{channel.id}/receive",
        method="POST",
        body=body,
        headers={SIGNATURE_HEADER: "0" * 64},
    )
    assert forged["status"] == 403
    assert not Message.objects.filter(channel=channel).exists()


def test_the_site_keeps_its_middleware(db, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    answer = call("/login/")
    assert answer["headers"].get("X-Frame-Options") == "DENY"
