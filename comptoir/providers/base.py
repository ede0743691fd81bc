"""What every provider type is made of: its attributes, its sends, and its webhook events.

A handler turns a provider's request into events and never touches the database; one
service (`comptoir.messaging.inbound.events_store`) stores events for every provider.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar


class Outcome(StrEnum):
    """The small fixed set a send can end in."""

    SENT = "sent"  # accepted; provider_id set
    RETRY = "retry"  # connection failed or provider hiccup: try again later
    THROTTLED = "throttled"  # provider asked us to slow down: try again later, slower
    REJECTED = "rejected"  # final: the provider refused this message
    CONTACT_STOPPED = "contact_stopped"  # final: the recipient opted out at the provider
    CONFIG_ERROR = "config_error"  # the channel is misconfigured: the message waits
    # The request reached the provider but its answer was lost: it may have been sent, and
    # the provider cannot deduplicate, so it is never tried again (the message: `unknown`).
    UNCONFIRMED = "unconfirmed"


RETRYABLE = frozenset({Outcome.RETRY, Outcome.THROTTLED, Outcome.CONFIG_ERROR})


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    reference: str  # our message id: providers that support it use it to deduplicate
    to: str
    sender: str
    body: str
    encoding: str
    segments: int
    subject: str = ""  # email only
    html: str = ""  # email only: an HTML alternative; "" lets the adapter derive one from body


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    provider_id: str = ""
    error_code: str = ""
    reason: str = ""
    retry_after: float | None = None  # seconds, when the provider says

    @classmethod
    def sent(cls, provider_id: str) -> SendResult:
        return cls(Outcome.SENT, provider_id=provider_id)


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    """What an adapter knows of one channel: no model, just values (secrets decrypted)."""

    uuid: str
    address: str  # the sender: a number, a short code, an alphanumeric name or an email
    config: Mapping[str, Any]
    secrets: Mapping[str, str]
    base_url: str = ""  # where this installation is reached from the provider


# Events a handler produces.
@dataclass(frozen=True, slots=True)
class InboundMessage:
    provider_id: str
    sender: str
    recipient: str
    body: str
    received_at: dt.datetime | None = None


class DeliveryStatus(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    provider_id: str
    status: DeliveryStatus
    error_code: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    kind: str  # "missed_call", "call_answered", "opt_out"
    sender: str
    recipient: str
    provider_id: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


Event = InboundMessage | StatusUpdate | ChannelEvent


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    method: str
    url: str  # absolute, as the provider called it (signatures often cover it)
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    form: Mapping[str, str]
    query: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class HookResult:
    events: Sequence[Event]
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"


class SignatureError(Exception):
    """The request is not from the provider: answered 403 and nothing is stored."""


class BadRequest(Exception):
    """The request is from the provider but cannot be read: answered 400."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A URL the provider calls: /hooks/<channel-uuid>/<action>."""

    action: str
    description: str
    method: str = "POST"


@dataclass(frozen=True, slots=True)
class ConfigField:
    name: str
    label: str
    secret: bool = False
    required: bool = True
    default: Any = None


class ProviderType:
    """A provider: plain attributes plus hooks a type overrides only when it needs to."""

    code: ClassVar[str]
    name: ClassVar[str]
    schemes: ClassVar[tuple[str, ...]] = ("sms",)
    endpoints: ClassVar[tuple[Endpoint, ...]] = ()
    config_fields: ClassVar[tuple[ConfigField, ...]] = ()
    # True when sending the same reference twice cannot reach the customer twice, so a send
    # lost in a crash may safely be tried again.
    idempotent_sends: ClassVar[bool] = False
    # How many messages one `send_many` call takes at most.
    batch_size: ClassVar[int] = 1

    def default_address(self, region: str) -> str:
        """A sender for a new channel when none is given ("" for none)."""
        return ""

    def activate(self, channel: ChannelConfig) -> None:
        """Called when a channel of this type is created (e.g. register webhooks)."""

    def deactivate(self, channel: ChannelConfig) -> None:
        """Called when a channel of this type is removed."""

    def check_credentials(self, channel: ChannelConfig) -> str | None:
        """A reason when the credentials do not work, else None."""
        return None

    def redact_values(self, channel: ChannelConfig) -> tuple[str, ...]:
        """Strings that must never appear in a log."""
        return tuple(v for v in channel.secrets.values() if v)

    def send(self, channel: ChannelConfig, message: OutgoingMessage) -> SendResult:
        raise NotImplementedError

    def send_many(
        self, channel: ChannelConfig, messages: Sequence[OutgoingMessage]
    ) -> list[SendResult]:
        return [self.send(channel, m) for m in messages]

    def handle(self, channel: ChannelConfig, action: str, request: WebhookRequest) -> HookResult:
        raise BadRequest(f"{self.code} has no webhook {action!r}")

    def recorded(self, channel_id: str, provider_ids: Sequence[str]) -> None:
        """The dispatcher has committed these sends (their provider ids are stored): a type
        holding receipts that came before (an SMSC answers fast) may store them now."""

    def endpoint(self, action: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.action == action), None)

    # Voice: True when the type can place calls that speak and listen for key presses.
    voice: ClassVar[bool] = False

    def call(self, channel: ChannelConfig, call: VoiceCall) -> SendResult:
        """Place an outbound call (automations: a reminder read aloud, "press 1 to confirm").

        The outcome set is a send's; `provider_id` is the provider's call id, which the
        call's later events (`call_keypress`, `call_status`) carry as `extra["call_id"]`.
        """
        raise NotImplementedError(f"{self.code} cannot place calls")


@dataclass(frozen=True, slots=True)
class VoiceCall:
    """An outbound call: `say_text` read aloud in `language`, then `gather_digits` keys."""

    reference: str  # ours: the call's events carry it back as extra["reference"]
    to: str
    sender: str  # the number the customer sees ("" for the channel's address)
    say_text: str
    language: str  # "fr", "en" or a locale such as "fr-FR"
    gather_digits: int = 0  # 0: just speak
    timeout: int = 30  # seconds the phone rings before the call counts as unanswered
