"""Twilio on loopback for tests: the API server, a channel pointed at it, signed webhooks.

The server itself is `comptoir.providers.twilio.peer` (a ThreadingHTTPServer on
127.0.0.1:0 that answers like Twilio's REST API and records every request); it lives in
the package because the conformance table and `comptoir bench twilio` use it too. Here:
the fixtures that start it per test, and `post_hook`, which delivers a webhook through
the real /hooks/<uuid>/<action> URL signed exactly as Twilio signs it, and an HTTPS
server with a self-signed certificate (certificates must be verified).
"""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import Client

from comptoir.channels.models import Channel
from comptoir.channels.services import channel_create
from comptoir.providers.twilio import signature
from comptoir.providers.twilio.conformance import ACCOUNT_SID, AUTH_TOKEN, SHOP
from comptoir.providers.twilio.peer import TwilioPeer, twilio_peer
from comptoir.providers.twilio.rest import pools_close
from comptoir.workspaces.models import Workspace

FIXTURES = Path(__file__).resolve().parent.parent / "comptoir/providers/twilio/fixtures"
TEST_HOST = "http://testserver"  # what Django's test client calls itself
SHOP_PHONE = "+33611223344"  # the shop's own phone, rung for calls


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def twilio_api() -> Iterator[TwilioPeer]:
    """A Twilio-like API on a free loopback port; pooled connections closed afterwards."""
    with twilio_peer(ACCOUNT_SID, AUTH_TOKEN) as peer:
        yield peer
    pools_close()


@pytest.fixture
def twilio_channel(workspace: Workspace, twilio_api: TwilioPeer) -> Channel:
    return channel_create(
        workspace=workspace,
        provider="twilio",
        name="Twilio",
        address=SHOP,
        config={
            "account_sid": ACCOUNT_SID,
            "api_base_url": twilio_api.url,
            "forward_to": SHOP_PHONE,
            "ring_timeout": 25,
        },
        secrets={"auth_token": AUTH_TOKEN},
    )


def post_hook(
    client: Client,
    channel: Channel,
    action: str,
    body: bytes,
    *,
    query: str = "",
    token: str | None = AUTH_TOKEN,
    signed_url: str = "",
) -> Any:
    """POST a form to the channel's hook, signed with `token` (None: no signature)."""
    path = f"/hooks/{channel.id}/{action}" + (f"?{query}" if query else "")
    headers = {}
    if token is not None:
        url = signed_url or TEST_HOST + path
        value = signature.compute(token, url, signature.form_params(body))
        headers["HTTP_X_TWILIO_SIGNATURE"] = value
    return client.post(path, data=body, content_type="application/x-www-form-urlencoded", **headers)


@contextmanager
def self_signed_https(folder: Path) -> Iterator[str]:
    """An HTTPS server on loopback whose certificate no authority signed; yields its URL."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
