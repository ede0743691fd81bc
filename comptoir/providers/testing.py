"""The conformance harness every provider adapter passes: a table of cases plus one test file.

An adapter's folder holds `conformance.py`, which defines a `Conformance` subclass and an
instance of it named `CONFORMANCE`, and `fixtures/`, the raw request bodies the provider
really sends. `tests/test_conformance.py` runs every table of every type listed in
`settings.COMPTOIR_PROVIDERS` (and fails for a type without one), with test ids such as
`sandbox-incoming-receive_text`. Run one adapter with `pytest tests/test_conformance.py -k
twilio`.

What the harness checks, per adapter:

* Incoming case, action an `Endpoint` of the type (the core check): the fixture is read as
  bytes and turned into a `WebhookRequest` exactly as `comptoir.channels.hooks` would (form
  parsed when urlencoded, query parsed, absolute URL `<base_url>/hooks/<uuid>/<action>?query`,
  lower-cased headers with `Content-Type` and those `authenticate()` returns), then
  `ptype.handle()` is called and its events must EQUAL `case.expected`, in order. Use `ANY`
  for a field (or a whole event) that is not checked. `case.status` is the HTTP answer: 200
  (the default) or what the handler returns; 400 means the handler must raise `BadRequest`.
  `case.response_contains` must be in the answer's body (or the BadRequest's text).
* Incoming case, action not an endpoint (SMPP `deliver_sm`, ...): `inject(peer, channel,
  case)` makes the peer deliver the fixture over the adapter's own connection and returns
  the events the adapter produced from it (what it handed, or would hand, to storage).
* End to end, once per endpoint (its first case with status 200): the fixture is POSTed
  through the real URL /hooks/<uuid>/<action> to a channel created by
  `channel_create`, twice; the answer must be `case.status`, each expected
  `InboundMessage` must be stored once (a webhook delivered twice stores one message),
  each expected `StatusUpdate` kept as a pending receipt (no message has its id).
* Outgoing case: `peer.behave(case.behaviour)`, then `channel_values(peer)` gives the
  channel (so a peer whose behaviour lives in the channel's config can read it), then
  `before_send(peer, channel, case)`, then `ptype.send(channel, case.message)`; the result's
  outcome must be `case.outcome`, a SENT result carries a provider id, any other one a
  reason; then `case.check(peer)` asserts what the peer recorded (the requests it got).
* For free: "unknown channel -> 404" (a signed POST to /hooks/<random uuid>/<action>),
  "bad signature -> 403 and nothing stored" for each endpoint (unsigned, and signed with
  wrong secrets; no row is added to any table), "secrets never in logs" (every case runs
  with every logger at DEBUG; no secret value of the channel may appear in a log message, a
  formatted exception, a send's reason or a webhook's answer), and the table covers every
  endpoint and has at least one SENT case.

Test channels are `ChannelConfig` values made from `channel_values(peer)` the way
`channel_create` stores them (defaults filled, a `webhook_secret` added), with the
conformance's `address` as sender and `BASE_URL` of the test settings as base URL. Give
secrets distinctive values (at least 6 characters) so that a leak is recognisable.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from comptoir.providers.base import (
    BadRequest,
    ChannelConfig,
    Event,
    HookResult,
    Outcome,
    OutgoingMessage,
    ProviderType,
    SendResult,
    WebhookRequest,
)

FORM = "application/x-www-form-urlencoded"
# Shorter secrets would match by chance (a "1" in a timestamp).
MIN_SECRET_LENGTH = 6


class _Any:
    """Equal to everything: marks a field of an expected event as not checked."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()


@dataclass(frozen=True)
class IncomingCase:
    """A request the provider sends us, and what the adapter must make of it."""

    name: str
    action: str  # an Endpoint action, or a peer-side action delivered by `inject`
    fixture: str  # file under the adapter's fixtures/: the raw body as the provider sends it
    expected: Sequence[Event]  # the events, in order (ANY for what is not checked)
    content_type: str = FORM
    method: str = "POST"
    query: str = ""
    status: int = 200  # 400: the handler must raise BadRequest
    response_contains: bytes = b""


@dataclass(frozen=True)
class OutgoingCase:
    """A send, what the peer does with it, and the outcome the adapter must return."""

    name: str
    message: OutgoingMessage
    behaviour: str  # "accept", "reject", "throttle", "down", ... (each peer documents its own)
    outcome: Outcome
    check: Callable[[Any], None] | None = None  # assertions on what the peer recorded


def message(
    body: str = "Votre commande est prête.",
    *,
    to: str = "+33612345678",
    reference: str = "",
    sender: str = "",
    encoding: str = "gsm7",
    segments: int = 1,
) -> OutgoingMessage:
    """An outgoing message for a case: a fresh reference unless one is given."""
    return OutgoingMessage(
        reference=reference or str(uuid.uuid4()),
        to=to,
        sender=sender,
        body=body,
        encoding=encoding,
        segments=segments,
    )


class NullPeer:
    """The peer of an adapter that needs none: behaves in one way, records nothing."""

    requests: ClassVar[list[Any]] = []

    def behave(self, name: str) -> None:
        if name != "accept":
            raise ValueError(f"this peer only accepts, not {name!r}")


class Conformance:
    """An adapter's table. Subclass it in `<package>/conformance.py` as `CONFORMANCE`."""

    provider: ClassVar[str]  # the type's code
    fixtures: ClassVar[Path]  # usually Path(__file__).parent / "fixtures"
    incoming: ClassVar[Sequence[IncomingCase]] = ()
    outgoing: ClassVar[Sequence[OutgoingCase]] = ()
    address: ClassVar[str] = "+33639980001"  # the test channel's sender

    def channel_values(self, peer: Any) -> tuple[dict[str, Any], dict[str, str]]:
        """(config, secrets) of a test channel talking to this peer."""
        raise NotImplementedError

    def authenticate(self, channel: ChannelConfig, request: WebhookRequest) -> dict[str, str]:
        """Headers that make this request authentic (its signature), as the provider signs."""
        return {}

    @contextmanager
    def peer(self) -> Iterator[Any]:
        """Start the provider's side (HTTP server, SMPP or SMTP server process) and stop it.

        The object has `behave(name)` and `requests`; it is started once per test session.
        """
        yield NullPeer()

    def inject(self, peer: Any, channel: ChannelConfig, case: IncomingCase) -> Sequence[Event]:
        """Deliver a non-webhook case over the adapter's own connection; return its events."""
        raise NotImplementedError(f"{self.provider}: no way to deliver {case.action!r}")

    def before_send(self, peer: Any, channel: ChannelConfig, case: OutgoingCase) -> None:
        """Prepare the peer for one send when `behave(name)` cannot (it lacks the channel)."""

    # -- used by the harness -------------------------------------------------------------

    def ptype(self) -> ProviderType:
        from comptoir.providers.registry import provider_type

        return provider_type(self.provider)

    def fixture_bytes(self, case: IncomingCase) -> bytes:
        path = self.fixtures / case.fixture
        if not path.is_file():
            raise FileNotFoundError(f"{self.provider}: case {case.name!r}: no fixture {path}")
        return path.read_bytes()

    def is_webhook(self, case: IncomingCase) -> bool:
        return self.ptype().endpoint(case.action) is not None

    def endpoint_cases(self) -> list[IncomingCase]:
        """One accepted case per endpoint, in the type's order (for the end-to-end checks)."""
        found = []
        for endpoint in self.ptype().endpoints:
            case = next(
                (c for c in self.incoming if c.action == endpoint.action and c.status == 200),
                None,
            )
            if case is not None:
                found.append(case)
        return found


# -- building channels and requests ------------------------------------------------------


def channel_for(
    conformance: Conformance, peer: Any, *, channel_uuid: str = "", base_url: str = ""
) -> ChannelConfig:
    """A test channel as `channel_create` would store it, secrets in clear."""
    from django.conf import settings

    from comptoir.channels.services import channel_values_complete

    config, secrets = conformance.channel_values(peer)
    config, secrets = channel_values_complete(conformance.ptype(), config, secrets)
    return ChannelConfig(
        uuid=channel_uuid or str(uuid.uuid4()),
        address=conformance.address,
        config=config,
        secrets=secrets,
        base_url=base_url or settings.BASE_URL,
    )


def hook_url(channel: ChannelConfig, case: IncomingCase) -> str:
    url = f"{channel.base_url}/hooks/{channel.uuid}/{case.action}"
    return f"{url}?{case.query}" if case.query else url


def webhook_request(
    conformance: Conformance,
    channel: ChannelConfig,
    case: IncomingCase,
    *,
    signer: ChannelConfig | None = None,
) -> WebhookRequest:
    """The request the provider sends for this case, signed with `signer`'s secrets.

    `signer` defaults to the channel itself; pass a channel with other secrets for a forged
    signature, or use `unsigned_request`.
    """
    request = unsigned_request(conformance, channel, case)
    extra = conformance.authenticate(signer or channel, request)
    headers = {**request.headers, **{k.lower(): v for k, v in extra.items()}}
    return WebhookRequest(
        method=request.method,
        url=request.url,
        headers=headers,
        body=request.body,
        form=request.form,
        query=request.query,
    )


def unsigned_request(
    conformance: Conformance, channel: ChannelConfig, case: IncomingCase
) -> WebhookRequest:
    body = conformance.fixture_bytes(case)
    form: dict[str, str] = {}
    if case.content_type.split(";")[0].strip() == FORM:
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
    return WebhookRequest(
        method=case.method,
        url=hook_url(channel, case),
        headers={"content-type": case.content_type},
        body=body,
        form=form,
        query=dict(parse_qsl(case.query, keep_blank_values=True)),
    )


def forged(channel: ChannelConfig) -> ChannelConfig:
    """The same channel with every secret wrong: what an attacker without them can sign."""
    return ChannelConfig(
        uuid=channel.uuid,
        address=channel.address,
        config=channel.config,
        secrets={k: f"forged-{v}" for k, v in channel.secrets.items()},
        base_url=channel.base_url,
    )


# -- the checks --------------------------------------------------------------------------


@dataclass
class IncomingOutcome:
    """What an incoming case produced: its channel, events and the texts shown to others."""

    channel: ChannelConfig
    events: Sequence[Event]
    texts: list[str] = field(default_factory=list)


@dataclass
class OutgoingOutcome:
    channel: ChannelConfig
    result: SendResult


def incoming_check(conformance: Conformance, peer: Any, case: IncomingCase) -> IncomingOutcome:
    """Run one incoming case against the adapter and assert its events and answer."""
    channel = channel_for(conformance, peer)
    if not conformance.is_webhook(case):
        events = list(conformance.inject(peer, channel, case))
        _assert_events(case, events)
        return IncomingOutcome(channel, events)
    request = webhook_request(conformance, channel, case)
    ptype = conformance.ptype()
    if case.status == 400:
        try:
            ptype.handle(channel, case.action, request)
        except BadRequest as exc:
            text = str(exc)
            assert case.response_contains.decode() in text, (
                f"{case.name}: BadRequest {text!r} lacks {case.response_contains!r}"
            )
            return IncomingOutcome(channel, (), [text])
        raise AssertionError(f"{case.name}: expected BadRequest (400), the handler accepted it")
    result: HookResult = ptype.handle(channel, case.action, request)
    _assert_events(case, list(result.events))
    assert result.status == case.status, f"{case.name}: answered {result.status}"
    assert case.response_contains in result.body, (
        f"{case.name}: answer {result.body!r} lacks {case.response_contains!r}"
    )
    return IncomingOutcome(channel, result.events, [result.body.decode(errors="replace")])


def _assert_events(case: IncomingCase, events: list[Event]) -> None:
    assert events == list(case.expected), (
        f"{case.name}: events differ\n got:      {events!r}\n expected: {list(case.expected)!r}"
    )


def outgoing_check(conformance: Conformance, peer: Any, case: OutgoingCase) -> OutgoingOutcome:
    """Run one outgoing case against the adapter and its peer, and assert the outcome."""
    peer.behave(case.behaviour)
    channel = channel_for(conformance, peer)
    conformance.before_send(peer, channel, case)
    result = conformance.ptype().send(channel, case.message)
    assert result.outcome == case.outcome, (
        f"{case.name}: outcome {result.outcome!r} (code {result.error_code!r}: "
        f"{result.reason!r}), expected {case.outcome!r}"
    )
    if result.outcome is Outcome.SENT:
        assert result.provider_id, f"{case.name}: sent without a provider id"
    else:
        assert result.reason, f"{case.name}: {result.outcome} without a reason"
    if case.check is not None:
        case.check(peer)
    return OutgoingOutcome(channel, result)


def secret_values(channel: ChannelConfig, ptype: ProviderType) -> set[str]:
    """The values that must never be logged: the channel's secrets and what the type adds."""
    values = set(channel.secrets.values()) | set(ptype.redact_values(channel))
    return {v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH}


class LogCapture(logging.Handler):
    """Every record of every logger at DEBUG, formatted with its exception, while active."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))

    @contextmanager
    def active(self) -> Iterator[LogCapture]:
        manager = logging.Logger.manager
        loggers = [logging.getLogger()] + [
            lg for lg in list(manager.loggerDict.values()) if isinstance(lg, logging.Logger)
        ]
        saved = [(lg, lg.level, lg.disabled) for lg in loggers]
        disable = manager.disable
        logging.disable(logging.NOTSET)
        # Handlers go where records end: the root, and loggers that do not propagate.
        hosts = [lg for lg in loggers if lg is loggers[0] or not lg.propagate]
        for lg in loggers:
            lg.setLevel(logging.DEBUG)
            lg.disabled = False
        for lg in hosts:
            lg.addHandler(self)
        try:
            yield self
        finally:
            for lg in hosts:
                lg.removeHandler(self)
            for lg, level, disabled in saved:
                lg.setLevel(level)
                lg.disabled = disabled
            logging.disable(disable)


def leaks(texts: Sequence[str], secrets: set[str]) -> list[str]:
    """The texts that contain a secret, each shown with the secret masked."""
    found = []
    for text in texts:
        for secret in secrets:
            if secret in text:
                found.append(text.replace(secret, "<SECRET>"))
    return found
