"""The conformance harness's checks: a case's channel and request, the case run, the logs.

`tests/test_conformance.py` runs every case of every table through these; an adapter's
table needs only `comptoir.providers.testing`, whose docstring says what each check asserts.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from comptoir.providers.base import (
    BadRequest,
    ChannelConfig,
    Event,
    HookResult,
    Outcome,
    ProviderType,
    SendResult,
    WebhookRequest,
)
from comptoir.providers.testing import FORM, Conformance, IncomingCase, OutgoingCase

# Shorter secrets would match by chance (a "1" in a timestamp).
MIN_SECRET_LENGTH = 6


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
