"""The conformance harness every provider adapter passes: a table of cases plus one test file.

An adapter's folder holds `conformance.py`, which defines a `Conformance` subclass and an
instance of it named `CONFORMANCE`, and `fixtures/`, the raw request bodies the provider
really sends. `tests/test_conformance.py` runs every table of every type listed in
`settings.COMPTOIR_PROVIDERS` (and fails for a type without one), with test ids such as
`sandbox-incoming-receive_text`. Run one adapter with `pytest tests/test_conformance.py -k
twilio`.

What the harness checks, per adapter (the checks are in `conformance_checks.py`):

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

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from comptoir.providers.base import (
    ChannelConfig,
    Event,
    Outcome,
    OutgoingMessage,
    ProviderType,
    WebhookRequest,
)

FORM = "application/x-www-form-urlencoded"


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
