"""SMPP 3.4: an operator's SMSC, reached over a long-lived transceiver bind.

Sends go through the bind of the worker process that calls `send_many` (see
`sessions.py`); receipts and customers' texts come back over the same bind, not as
webhooks, so the type declares no endpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from comptoir.providers.base import (
    ChannelConfig,
    ConfigField,
    Outcome,
    OutgoingMessage,
    ProviderType,
    SendResult,
)
from comptoir.providers.smpp.config import SessionConfig

DEFAULT_PORT = 2775


UNANSWERED = SendResult(
    Outcome.UNCONFIRMED,
    error_code="send_unconfirmed",
    reason="the connection to the SMSC was lost before it answered this submit_sm: it may "
    "have been accepted, so it was not sent again",
)


class ConfigError(ValueError):
    """A channel setting that cannot work; the message names the field."""


def _int(config: Any, name: str, default: int | None, low: int, high: int) -> int | None:
    value = config.get(name, default)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {number}")
    return number


def _float(config: Any, name: str, default: float, low: float) -> float:
    value = config.get(name, default)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not {value!r}") from None
    if number < low:
        raise ConfigError(f"{name} must be at least {low}, not {number}")
    return number


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def session_config(channel: ChannelConfig) -> SessionConfig:
    """The bind's settings from a channel; ConfigError names a field that cannot work."""
    config = channel.config
    host = str(config.get("host") or "").strip()
    if not host:
        raise ConfigError("host is required")
    system_id = str(config.get("system_id") or "")
    if not system_id or len(system_id) > 15:
        raise ConfigError("system_id is required, at most 15 characters")
    password = channel.secrets.get("password", "")
    if len(password) > 8:
        raise ConfigError("password is at most 8 characters in SMPP 3.4")
    system_type = str(config.get("system_type") or "")
    if len(system_type) > 12:
        raise ConfigError("system_type is at most 12 characters")
    return SessionConfig(
        host=host,
        port=_int(config, "port", DEFAULT_PORT, 1, 65535) or DEFAULT_PORT,
        system_id=system_id,
        password=password,
        system_type=system_type,
        window=_int(config, "window", 10, 1, 1000) or 10,
        use_sar=_bool(config.get("use_sar", False)),
        source_ton=_int(config, "source_ton", None, 0, 6),
        source_npi=_int(config, "source_npi", None, 0, 18),
        throughput=_float(config, "throughput", 0.0, 0.0),
        enquire_link=_float(config, "enquire_link", 30.0, 0.05),
    )


class SmppType(ProviderType):
    code = "smpp"
    name = "SMPP 3.4 (operator SMSC)"
    schemes = ("sms",)
    endpoints = ()  # receipts and texts come over the bind
    config_fields = (
        ConfigField("host", "SMSC host name or address"),
        ConfigField("port", "SMSC port", default=DEFAULT_PORT),
        ConfigField("system_id", "System ID (account name given by the operator)"),
        ConfigField("password", "Password (at most 8 characters)", secret=True),
        ConfigField("system_type", "System type (often empty)", required=False, default=""),
        ConfigField(
            "window", "Window: submit_sm awaiting an answer at once", required=False, default=10
        ),
        ConfigField(
            "use_sar",
            "Concatenate long texts with SAR parameters instead of a UDH",
            required=False,
            default=False,
        ),
        ConfigField(
            "source_ton", "Sender TON (empty: from the sender)", required=False, default=""
        ),
        ConfigField(
            "source_npi", "Sender NPI (empty: from the sender)", required=False, default=""
        ),
        ConfigField(
            "throughput",
            "submit_sm per second the operator allows on this bind (0: no limit)",
            required=False,
            default=0,
        ),
        ConfigField("enquire_link", "Seconds between keep-alives", required=False, default=30),
    )
    # An SMSC has no notion of our reference: a send lost in a crash is never re-sent.
    idempotent_sends = False
    # Many windows' worth per dispatcher round trip: the window keeps pipelining inside it.
    batch_size = 200

    def send(self, channel: ChannelConfig, message: OutgoingMessage) -> SendResult:
        return self.send_many(channel, [message])[0]

    def send_many(
        self, channel: ChannelConfig, messages: Sequence[OutgoingMessage]
    ) -> list[SendResult]:
        from comptoir.providers.smpp.sessions import sessions

        try:
            config = session_config(channel)
        except ConfigError as exc:
            error = SendResult(Outcome.CONFIG_ERROR, error_code="smpp_config", reason=str(exc))
            return [error for _ in messages]
        results = sessions().send_many(channel, config, messages)
        # None: the submit_sm was written but the connection went before its answer. The
        # SMSC may have it, so it is never sent again (the dispatcher marks it `unknown`;
        # a late receipt cannot settle it, having no id, and a person decides).
        return [r if r is not None else UNANSWERED for r in results]

    def recorded(self, channel_id: str, provider_ids: Sequence[str]) -> None:
        from comptoir.providers.smpp.sessions import sessions

        sessions().recorded(channel_id, provider_ids)

    def check_credentials(self, channel: ChannelConfig) -> str | None:
        from comptoir.providers.smpp.sessions import sessions

        try:
            config = session_config(channel)
        except ConfigError as exc:
            return str(exc)
        # A bind of its own, let go at once: the channel's long-lived bind is the worker's.
        return sessions().probe(config)

    def deactivate(self, channel: ChannelConfig) -> None:
        from comptoir.providers.smpp.sessions import sessions

        sessions().stop(channel.uuid)
