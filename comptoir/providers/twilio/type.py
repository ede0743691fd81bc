"""Twilio: SMS out and in, delivery reports, the shop's line forwarded, calls that speak.

Sends are form posts to Twilio's REST API (`/2010-04-01/Accounts/<sid>/Messages.json`,
basic auth with the account SID and auth token) over a per-channel pool of kept-alive
connections; a batch is spread over a few connections in parallel. Webhooks are checked
against `X-Twilio-Signature` before anything is read (see `signature`).

The signature covers the URL Twilio called. It is checked against the URL Django saw and
against the channel's URL built from BASE_URL (what the set-up page tells you to paste):
behind a proxy that rewrites the scheme or host, BASE_URL must be the public URL.
"""

from __future__ import annotations

import logging
import re
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from comptoir.providers.base import (
    BadRequest,
    ChannelConfig,
    ConfigField,
    Endpoint,
    Event,
    HookResult,
    Outcome,
    OutgoingMessage,
    ProviderType,
    SendResult,
    SignatureError,
    VoiceCall,
    WebhookRequest,
)
from comptoir.providers.twilio import signature, sms, twiml
from comptoir.providers.twilio import voice as voice_hooks
from comptoir.providers.twilio.outcomes import result_for
from comptoir.providers.twilio.rest import (
    API_VERSION,
    DEFAULT_BASE_URL,
    NotSent,
    Unconfirmed,
    pool_for,
)

log = logging.getLogger(__name__)

ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
DEFAULT_CONNECTIONS = 4
UNCONFIRMED = "send_unconfirmed"  # the code the reaper gives a send it cannot confirm
MAX_CONNECTIONS = 32
# Sends of one batch run on these threads, at most `connections` of them per batch.
_executor = ThreadPoolExecutor(max_workers=MAX_CONNECTIONS, thread_name_prefix="twilio-send")


class ConfigProblem(Exception):
    """The channel's settings cannot work: every send would fail the same way."""


@dataclass(frozen=True, slots=True)
class Account:
    """A channel's Twilio settings, checked."""

    sid: str
    token: str
    base_url: str
    service_sid: str
    connections: int

    @classmethod
    def of(cls, channel: ChannelConfig) -> Account:
        sid = str(channel.config.get("account_sid") or "").strip()
        token = channel.secrets.get("auth_token", "")
        if not ACCOUNT_SID.match(sid):
            raise ConfigProblem("The account SID must be AC followed by 32 hexadecimal digits.")
        if not token:
            raise ConfigProblem("The auth token is missing.")
        service = str(channel.config.get("messaging_service_sid") or "").strip()
        if service and not SERVICE_SID.match(service):
            raise ConfigProblem(
                "The messaging service SID must be MG followed by 32 hexadecimal digits."
            )
        base = str(channel.config.get("api_base_url") or DEFAULT_BASE_URL).rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigProblem(f"The API base URL must be http(s)://host, not {base!r}.")
        try:
            raw = channel.config.get("connections")
            connections = DEFAULT_CONNECTIONS if raw in (None, "") else int(raw)
        except (TypeError, ValueError):
            raise ConfigProblem("Parallel connections must be a whole number.") from None
        if not 1 <= connections <= MAX_CONNECTIONS:
            raise ConfigProblem(f"Parallel connections must be between 1 and {MAX_CONNECTIONS}.")
        return cls(sid, token, base, service, connections)

    def path(self, resource: str) -> str:
        return f"/{API_VERSION}/Accounts/{self.sid}/{resource}"


def hook_url(channel: ChannelConfig) -> Callable[[str], str]:
    return lambda action: f"{channel.base_url}/hooks/{channel.uuid}/{action}"


class _Batch:
    """What one batch learned that makes its remaining sends pointless (not tried)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stop: SendResult | None = None

    def stopped(self) -> SendResult | None:
        with self.lock:
            return self.stop

    def learn(self, result: SendResult, *, not_sent: bool) -> None:
        # Throttling and a bad configuration hold for the whole account; a refused
        # connection for the whole batch. One message's rejection says nothing of others.
        if result.outcome in (Outcome.THROTTLED, Outcome.CONFIG_ERROR) or not_sent:
            with self.lock:
                if self.stop is None:
                    self.stop = SendResult(
                        result.outcome,
                        error_code=result.error_code,
                        reason=f"not tried: {result.reason}",
                        retry_after=result.retry_after,
                    )


class TwilioType(ProviderType):
    code = "twilio"
    name = "Twilio"
    schemes = ("sms",)
    voice = True
    endpoints = (
        Endpoint("receive", 'Messaging: "A message comes in" (HTTP POST)'),
        Endpoint("status", "Delivery reports (set on each message; nothing to paste)"),
        Endpoint("voice", 'Voice: "A call comes in" (HTTP POST)'),
        Endpoint("dial", "Outcome of ringing the shop's phone (set by Comptoir)"),
        Endpoint("call-status", "End of an automated call (set by Comptoir)"),
        Endpoint("gather", "Keys pressed during an automated call (set by Comptoir)"),
    )
    config_fields = (
        ConfigField("account_sid", "Account SID (AC…)"),
        ConfigField("auth_token", "Auth token", secret=True),
        ConfigField("messaging_service_sid", "Messaging service SID (MG…)", required=False),
        ConfigField("forward_to", "Shop phone to ring for calls (E.164)", required=False),
        ConfigField(
            "ring_timeout",
            "Seconds the shop phone rings before the call counts as missed",
            required=False,
            default=voice_hooks.DEFAULT_RING_SECONDS,
        ),
        ConfigField(
            "api_base_url", "Twilio API base URL", required=False, default=DEFAULT_BASE_URL
        ),
        ConfigField(
            "connections",
            "Parallel connections for sending",
            required=False,
            default=DEFAULT_CONNECTIONS,
        ),
    )
    # Twilio has no idempotency key for Messages.json: a lost answer is never re-sent blindly.
    idempotent_sends = False
    batch_size = 100

    # Sending ------------------------------------------------------------------------

    def send(self, channel: ChannelConfig, message: OutgoingMessage) -> SendResult:
        return self.send_many(channel, [message])[0]

    def send_many(
        self, channel: ChannelConfig, messages: Sequence[OutgoingMessage]
    ) -> list[SendResult]:
        """Send a batch over up to `connections` kept-alive connections at once."""
        try:
            account = Account.of(channel)
        except ConfigProblem as exc:
            return [SendResult(Outcome.CONFIG_ERROR, error_code="config", reason=str(exc))] * len(
                messages
            )
        batch = _Batch()
        status_url = hook_url(channel)("status")
        redact = self.redact_values(channel)

        def one(message: OutgoingMessage) -> SendResult:
            stop = batch.stopped()
            if stop is not None:
                return stop
            form = [("To", message.to), ("Body", message.body), ("StatusCallback", status_url)]
            if account.service_sid:
                form.append(("MessagingServiceSid", account.service_sid))
            else:
                form.append(("From", message.sender or channel.address))
            return self._create(channel, account, "Messages.json", form, batch, redact)

        lanes = min(account.connections, len(messages))
        if lanes <= 1:
            return [one(m) for m in messages]

        # One lane per connection. A recipient's messages share a lane, so they leave in
        # their order (two texts to one customer are not raced against each other).
        assigned: list[list[int]] = [[] for _ in range(lanes)]
        for index, message in enumerate(messages):
            assigned[zlib.crc32(message.to.encode()) % lanes].append(index)
        results: list[SendResult | None] = [None] * len(messages)

        def lane(indexes: list[int]) -> None:
            for index in indexes:
                results[index] = one(messages[index])

        for future in [_executor.submit(lane, indexes) for indexes in assigned if indexes]:
            future.result()
        done = [r for r in results if r is not None]
        assert len(done) == len(messages), "a lane returned without answering every message"
        return done

    def call(self, channel: ChannelConfig, call: VoiceCall) -> SendResult:
        """Place a call reading `say_text`, listening for `gather_digits` keys."""
        try:
            account = Account.of(channel)
        except ConfigProblem as exc:
            return SendResult(Outcome.CONFIG_ERROR, error_code="config", reason=str(exc))
        form = voice_hooks.call_form(channel, call, hook_url(channel))
        return self._create(
            channel, account, "Calls.json", form, _Batch(), self.redact_values(channel)
        )

    def _create(
        self,
        channel: ChannelConfig,
        account: Account,
        resource: str,
        form: list[tuple[str, str]],
        batch: _Batch,
        redact: tuple[str, ...],
    ) -> SendResult:
        pool = pool_for(channel.uuid, account.base_url)
        try:
            response = pool.post(account.path(resource), form, (account.sid, account.token))
        except NotSent as exc:
            result = SendResult(
                Outcome.RETRY,
                error_code="connection_failed",
                reason=f"could not reach Twilio: {exc}",
            )
            batch.learn(result, not_sent=True)
            return result
        except Unconfirmed as exc:
            # Twilio may have taken it, and has no idempotency key: sending it again (or
            # letting failover send it through the backup, which moves RETRY messages)
            # could text the customer twice. So it is final, saying why; the reaper's
            # "unknown" (same code) is the state it really is in, which the outcome set
            # cannot express.
            log.warning("channel %s: Twilio's answer was lost (%s)", channel.uuid, exc)
            return SendResult(
                Outcome.UNCONFIRMED,
                error_code=UNCONFIRMED,
                reason=f"the request reached Twilio but its answer was lost ({exc}): it may "
                "have been sent, so it was not sent again",
            )
        result = result_for(response, redact=redact)
        if result.outcome is Outcome.SENT and not result.provider_id:
            log.warning("channel %s: Twilio accepted a %s without a sid", channel.uuid, resource)
        batch.learn(result, not_sent=False)
        return result

    # Webhooks -----------------------------------------------------------------------

    def handle(self, channel: ChannelConfig, action: str, request: WebhookRequest) -> HookResult:
        params = signature.form_params(request.body)
        token = channel.secrets.get("auth_token", "")
        header = request.headers.get(signature.SIGNATURE_HEADER, "")
        if not signature.is_valid(token, _signed_urls(channel, request.url), params, header):
            raise SignatureError("bad or missing X-Twilio-Signature")
        form: Mapping[str, str] = dict(params)
        events: list[Event]
        body = twiml.empty()
        if action == "receive":
            events = sms.inbound_message(channel, form)
        elif action == "status":
            events = sms.status_callback(channel, form)
        elif action == "voice":
            events, body = voice_hooks.incoming_call(channel, form, hook_url(channel))
        elif action == "dial":
            events, body = voice_hooks.dial_outcome(channel, form)
        elif action == "gather":
            events, body = voice_hooks.keypress(channel, form, request.query)
        elif action == "call-status":
            events = voice_hooks.call_status(channel, form, request.query)
        else:
            raise BadRequest(f"twilio has no webhook {action!r}")
        return HookResult(events, body=body, content_type=twiml.CONTENT_TYPE)

    def check_credentials(self, channel: ChannelConfig) -> str | None:
        try:
            Account.of(channel)
        except ConfigProblem as exc:
            return str(exc)
        forward = str(channel.config.get("forward_to") or "")
        if forward and not re.fullmatch(r"\+[1-9][0-9]{6,14}", forward):
            return "The shop phone must be written in international form, e.g. +33612345678."
        return None


def _signed_urls(channel: ChannelConfig, seen: str) -> list[str]:
    """The URL Django saw, and the same path and query under the channel's BASE_URL."""
    parts = urlsplit(seen)
    marker = parts.path.find("/hooks/")
    urls = [seen]
    if channel.base_url and marker >= 0:
        rebuilt = channel.base_url + parts.path[marker:]
        urls.append(f"{rebuilt}?{parts.query}" if parts.query else rebuilt)
    return urls
