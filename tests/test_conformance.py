"""Every provider type enabled in settings passes its conformance table.

The harness is comptoir.providers.testing. Ids read `<provider>-<kind>-<case>`:
`pytest tests/test_conformance.py -k twilio` runs one.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client
from django.utils.module_loading import import_string

from comptoir.channels.models import Channel
from comptoir.channels.services import channel_create
from comptoir.messaging.models import Direction, Message, PendingReceipt
from comptoir.providers.base import (
    ChannelConfig,
    HookResult,
    InboundMessage,
    Outcome,
    OutgoingMessage,
    SendResult,
    SignatureError,
    StatusUpdate,
    WebhookRequest,
)
from comptoir.providers.conformance_checks import (
    LogCapture,
    channel_for,
    forged,
    incoming_check,
    leaks,
    outgoing_check,
    secret_values,
    unsigned_request,
    webhook_request,
)
from comptoir.providers.registry import provider_types
from comptoir.providers.sandbox import SandboxType
from comptoir.providers.sandbox.conformance import SandboxConformance, SandboxNetwork
from comptoir.providers.sandbox.type import SIGNATURE_HEADER, sign
from comptoir.providers.testing import ANY, Conformance, IncomingCase
from comptoir.workspaces.models import Workspace

TEST_HOST = "http://testserver"  # what Django's test client calls itself


def _conformance_of(path: str) -> tuple[str, Conformance | str]:
    """A registered type's code and its table, or why it has none."""
    cls = import_string(path)
    module = sys.modules[cls.__module__]
    package = cls.__module__ if hasattr(module, "__path__") else cls.__module__.rpartition(".")[0]
    try:
        found = importlib.import_module(f"{package}.conformance")
    except ModuleNotFoundError as exc:
        if exc.name != f"{package}.conformance":
            raise  # the table exists but imports something missing: show that error
        return cls.code, f"{path}: no conformance table ({package}.conformance: {exc})"
    table = getattr(found, "CONFORMANCE", None)
    if not isinstance(table, Conformance):
        return cls.code, f"{package}.conformance has no CONFORMANCE (a Conformance instance)"
    if table.provider != cls.code:
        return cls.code, f"{package}.conformance is for {table.provider!r}, not {cls.code!r}"
    return cls.code, table


REGISTERED = [_conformance_of(path) for path in settings.COMPTOIR_PROVIDERS]
TABLES = [t for _, t in REGISTERED if isinstance(t, Conformance)]


def _params(cases: Callable[[Conformance], list[tuple[str, Any]]], kind: str) -> list[Any]:
    return [
        pytest.param(table, case, id=f"{table.provider}-{kind}-{name}")
        for table in TABLES
        for name, case in cases(table)
    ]


INCOMING = _params(lambda t: [(c.name, c) for c in t.incoming], "incoming")
OUTGOING = _params(lambda t: [(c.name, c) for c in t.outgoing], "outgoing")
ENDPOINT_CASES = _params(lambda t: [(c.action, c) for c in t.endpoint_cases()], "hook")
BY_TABLE = [pytest.param(t, id=t.provider) for t in TABLES]


@pytest.fixture(scope="session")
def peers() -> Iterator[Callable[[Conformance], Any]]:
    """Each adapter's peer, started at first use and stopped at the end of the session."""
    started: dict[str, Any] = {}
    with ExitStack() as stack:

        def peer(table: Conformance) -> Any:
            if table.provider not in started:
                started[table.provider] = stack.enter_context(table.peer())
            return started[table.provider]

        yield peer


@pytest.mark.parametrize(("code", "table"), REGISTERED, ids=[code for code, _ in REGISTERED])
def test_registered_type_has_a_table(code: str, table: Conformance | str) -> None:
    assert isinstance(table, Conformance), table


@pytest.mark.parametrize("table", BY_TABLE)
def test_table_covers_the_type(table: Conformance) -> None:
    ptype = table.ptype()
    names = [c.name for c in table.incoming] + [c.name for c in table.outgoing]
    assert len(names) == len(set(names)), "case names repeat"
    covered = {c.action for c in table.endpoint_cases()}
    missing = [e.action for e in ptype.endpoints if e.action not in covered]
    assert not missing, f"endpoints without an accepted incoming case: {missing}"
    assert any(c.outcome is Outcome.SENT for c in table.outgoing), "no outgoing SENT case"
    for case in table.incoming:
        assert (table.fixtures / case.fixture).is_file(), f"{case.name}: no {case.fixture}"


@pytest.mark.parametrize(("table", "case"), INCOMING)
def test_incoming(db: None, peers: Any, table: Conformance, case: IncomingCase) -> None:
    incoming_check(table, peers(table), case)


@pytest.mark.parametrize(("table", "case"), OUTGOING)
def test_outgoing(db: None, peers: Any, table: Conformance, case: Any) -> None:
    outgoing_check(table, peers(table), case)


# -- through the real URL ----------------------------------------------------------------


def _stored_channel(table: Conformance, peer: Any, workspace: Workspace) -> Channel:
    config, secrets = table.channel_values(peer)
    return channel_create(
        workspace=workspace,
        provider=table.provider,
        name=f"{table.provider} conformance",
        address=table.address,
        config=config,
        secrets=secrets,
    )


def _post(client: Client, request: WebhookRequest) -> Any:
    path = request.url.removeprefix(TEST_HOST)
    headers = {k: v for k, v in request.headers.items() if k != "content-type"}
    return client.generic(
        request.method,
        path,
        data=request.body,
        content_type=request.headers.get("content-type", ""),
        headers=headers,
    )


def _as_called(channel: Channel) -> Any:
    """The channel's values with the base URL the test client is reached at."""
    return dataclasses.replace(channel.as_config(), base_url=TEST_HOST)


def _row_counts() -> dict[str, int]:
    return {m._meta.label: m._base_manager.count() for m in apps.get_models()}


@pytest.mark.parametrize(("table", "case"), ENDPOINT_CASES)
def test_webhook_end_to_end(
    peers: Any, workspace: Workspace, table: Conformance, case: IncomingCase
) -> None:
    channel = _stored_channel(table, peers(table), workspace)
    request = webhook_request(table, _as_called(channel), case)
    client = Client()
    for _delivery in range(2):  # providers retry: the second delivery stores nothing new
        response = _post(client, request)
        assert response.status_code == case.status, response.content
        assert case.response_contains in response.content
    for event in case.expected:
        if event is ANY or event.provider_id is ANY:
            continue
        if isinstance(event, InboundMessage):
            stored = Message.objects.for_workspace(workspace).filter(
                direction=Direction.IN, provider_id=event.provider_id
            )
            assert stored.count() == 1, f"inbound {event.provider_id} stored {stored.count()}x"
        elif isinstance(event, StatusUpdate):
            kept = PendingReceipt.objects.filter(channel=channel, provider_id=event.provider_id)
            assert kept.exists(), f"receipt {event.provider_id} was not kept"


@pytest.mark.parametrize(("table", "case"), ENDPOINT_CASES)
def test_bad_signature_is_refused_and_nothing_stored(
    peers: Any, workspace: Workspace, table: Conformance, case: IncomingCase
) -> None:
    bad_signature_check(table, peers(table), workspace, case)


def bad_signature_check(
    table: Conformance, peer: Any, workspace: Workspace, case: IncomingCase
) -> None:
    channel = _stored_channel(table, peer, workspace)
    called = _as_called(channel)
    before = _row_counts()
    client = Client()
    unsigned = unsigned_request(table, called, case)
    assert _post(client, unsigned).status_code == 403, "an unsigned request was accepted"
    forgery = webhook_request(table, called, case, signer=forged(called))
    assert forgery.headers != unsigned.headers, "authenticate() added no signature"
    assert _post(client, forgery).status_code == 403, "a forged signature was accepted"
    assert _row_counts() == before


@pytest.mark.parametrize(("table", "case"), ENDPOINT_CASES)
def test_unknown_channel_is_404(
    db: None, peers: Any, table: Conformance, case: IncomingCase
) -> None:
    stranger = channel_for(table, peers(table), base_url=TEST_HOST, channel_uuid=str(uuid.uuid4()))
    response = _post(Client(), webhook_request(table, stranger, case))
    assert response.status_code == 404


@pytest.mark.parametrize("table", BY_TABLE)
def test_secrets_never_in_logs(peers: Any, workspace: Workspace, table: Conformance) -> None:
    secrets_check(table, peers(table), workspace)


def secrets_check(table: Conformance, peer: Any, workspace: Workspace) -> None:
    """Run every case with every logger at DEBUG; no secret may show anywhere."""
    ptype = table.ptype()
    secrets: set[str] = set()
    texts: list[str] = []
    with LogCapture().active() as capture:
        for case in table.incoming:
            result = incoming_check(table, peer, case)
            secrets |= secret_values(result.channel, ptype)
            texts += result.texts
            if table.is_webhook(case):
                try:
                    ptype.handle(
                        result.channel,
                        case.action,
                        webhook_request(table, result.channel, case, signer=forged(result.channel)),
                    )
                except SignatureError as exc:
                    texts.append(str(exc))
        for out in table.outgoing:
            sent = outgoing_check(table, peer, out)
            secrets |= secret_values(sent.channel, ptype)
            texts += [sent.result.reason, sent.result.error_code]
        for case in table.endpoint_cases():  # the web layer logs refusals
            channel = _stored_channel(table, peer, workspace)
            secrets |= secret_values(channel.as_config(), ptype)
            called = _as_called(channel)
            _post(Client(), webhook_request(table, called, case))
            _post(Client(), webhook_request(table, called, case, signer=forged(called)))
    assert secrets, "the test channel has no secret to look for"
    found = leaks(capture.texts + texts, secrets)
    assert not found, "secrets appear in:\n" + "\n".join(found)


# -- the harness catches what it is for -------------------------------------------------

log = logging.getLogger(__name__)


class LaxType(SandboxType):
    """The sandbox, but it forgets to check signatures."""

    code = "lax"

    def handle(self, channel: ChannelConfig, action: str, request: WebhookRequest) -> HookResult:
        secret = channel.secrets.get("webhook_secret", "")
        signed = {**request.headers, SIGNATURE_HEADER: sign(secret, request.body)}
        return super().handle(channel, action, dataclasses.replace(request, headers=signed))


class LeakyType(SandboxType):
    """The sandbox, but it logs its signing key when it sends."""

    code = "leaky"

    def send(self, channel: ChannelConfig, message: OutgoingMessage) -> SendResult:
        log.debug("signing with %s", channel.secrets["webhook_secret"])
        return super().send(channel, message)


class LaxConformance(SandboxConformance):
    provider = "lax"


class LeakyConformance(SandboxConformance):
    provider = "leaky"


@pytest.fixture
def faulty_types(settings: Any) -> Iterator[None]:
    settings.COMPTOIR_PROVIDERS = [
        "comptoir.providers.sandbox.SandboxType",
        "tests.test_conformance.LaxType",
        "tests.test_conformance.LeakyType",
    ]
    provider_types.cache_clear()
    yield
    provider_types.cache_clear()


def test_harness_fails_a_type_without_a_table() -> None:
    code, found = _conformance_of("tests.fake_provider.ScriptedType")
    assert code == "scripted" and isinstance(found, str) and "no conformance table" in found


def test_harness_fails_wrong_events_and_outcomes(db: None) -> None:
    sandbox = SandboxConformance()
    peer = SandboxNetwork()
    case = sandbox.incoming[0]
    first = case.expected[0]
    assert isinstance(first, InboundMessage)
    wrong = dataclasses.replace(case, expected=[dataclasses.replace(first, body="?")])
    with pytest.raises(AssertionError, match="events differ"):
        incoming_check(sandbox, peer, wrong)
    with pytest.raises(AssertionError, match="expected BadRequest"):
        incoming_check(sandbox, peer, dataclasses.replace(case, status=400))
    out = dataclasses.replace(sandbox.outgoing[0], outcome=Outcome.REJECTED)
    with pytest.raises(AssertionError, match="outcome"):
        outgoing_check(sandbox, peer, out)


def test_harness_fails_a_type_that_skips_signatures(
    faulty_types: None, workspace: Workspace
) -> None:
    table = LaxConformance()
    with pytest.raises(AssertionError, match="unsigned request was accepted"):
        bad_signature_check(table, SandboxNetwork(), workspace, table.endpoint_cases()[0])


def test_harness_fails_a_type_that_logs_a_secret(faulty_types: None, workspace: Workspace) -> None:
    with pytest.raises(AssertionError, match="secrets appear in") as caught:
        secrets_check(LeakyConformance(), SandboxNetwork(), workspace)
    assert "signing with <SECRET>" in str(caught.value)
