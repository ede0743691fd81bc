"""The sandbox: a simulated carrier, labelled as such, behind the same pipeline as any other.

It accepts sends into the simulated network (`comptoir.sandbox.carrier`), which delivers
them to simulated handsets (the phone simulator page) and calls back with delivery
receipts after a short delay — signed webhooks to /hooks/<uuid>/status, like a real
provider's. A customer's reply from the simulator arrives at /hooks/<uuid>/receive.
It can be told to fail a share of messages or to throttle.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

import phonenumbers

from comptoir.providers.base import (
    BadRequest,
    ChannelConfig,
    ChannelEvent,
    ConfigField,
    DeliveryStatus,
    Endpoint,
    Event,
    HookResult,
    InboundMessage,
    OutgoingMessage,
    ProviderType,
    SendResult,
    SignatureError,
    StatusUpdate,
    VoiceCall,
    WebhookRequest,
)

SIGNATURE_HEADER = "x-sandbox-signature"
# A simulated call's outcome, as voice providers report it, and the event it makes.
CALL_OUTCOMES = {
    "no-answer": "missed_call",
    "busy": "missed_call",
    "failed": "missed_call",
    "completed": "call_answered",
}
# How a call we placed ended, as voice providers say it (Twilio's CallStatus).
CALL_ENDS = ("completed", "no-answer", "busy", "failed", "canceled")


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _json(request: WebhookRequest) -> Any:
    try:
        return json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from exc


def _field(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name!r} is missing or not a string")
    return value


def _call_end(channel: ChannelConfig, item: Any) -> ChannelEvent:
    if not isinstance(item, dict):
        raise BadRequest("expected a JSON object per call end")
    status = _field(item, "status")
    if status not in CALL_ENDS:
        raise BadRequest(f"unknown call status {status!r}: use one of {', '.join(CALL_ENDS)}")
    call_id = _field(item, "id")
    return ChannelEvent(
        kind="call_status",
        sender=_field(item, "from"),
        recipient=str(item.get("to") or channel.address),
        provider_id=f"{call_id}:{status}",
        extra={"status": status, "call_id": call_id, "reference": str(item.get("ref") or "")},
    )


class SandboxType(ProviderType):
    code = "sandbox"
    name = "Sandbox (simulated carrier)"
    schemes = ("sms",)
    endpoints = (
        Endpoint("receive", "A customer's text from the phone simulator"),
        Endpoint("status", "Delivery receipts from the simulated network"),
        Endpoint("call", "A call to the shop's line from the phone simulator, and its outcome"),
        Endpoint("call-status", "The end of a call Comptoir placed (a voice message)"),
        Endpoint("gather", "Keys pressed during a call Comptoir placed"),
    )
    config_fields = (
        ConfigField(
            "receipt_delay", "Seconds before a delivery receipt", required=False, default=1.0
        ),
        ConfigField(
            "fail_rate", "Share of messages the network fails (0 to 1)", required=False, default=0.0
        ),
        ConfigField(
            "throttle_per_second",
            "Messages accepted per second (0: no limit)",
            required=False,
            default=0,
        ),
    )
    # The simulated network keys messages by our reference: a repeated send is ignored.
    idempotent_sends = True
    batch_size = 500
    # Calls ring the simulated handset, which reads the text aloud (simulated).
    voice = True

    def default_address(self, region: str) -> str:
        # A number from the range France keeps for fiction (ARCEP: 06 39 98 xx xx); elsewhere
        # the region's example mobile number. Simulated handsets text it.
        if region == "FR":
            return "+33639980001"
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if example is None:
            return "+15005550006"
        return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)

    def send(self, channel: ChannelConfig, message: OutgoingMessage) -> SendResult:
        return self.send_many(channel, [message])[0]

    def send_many(
        self, channel: ChannelConfig, messages: Sequence[OutgoingMessage]
    ) -> list[SendResult]:
        from comptoir.sandbox.carrier import submit

        return submit(channel, messages)

    def call(self, channel: ChannelConfig, call: VoiceCall) -> SendResult:
        from comptoir.sandbox.carrier import place_call

        return place_call(channel, call)

    def handle(self, channel: ChannelConfig, action: str, request: WebhookRequest) -> HookResult:
        expected = sign(channel.secrets.get("webhook_secret", ""), request.body)
        if not hmac.compare_digest(expected, request.headers.get(SIGNATURE_HEADER, "")):
            raise SignatureError("bad or missing X-Sandbox-Signature")
        data = _json(request)
        events: list[Event] = []
        if action == "receive":
            if not isinstance(data, dict):
                raise BadRequest("expected a JSON object")
            events.append(
                InboundMessage(
                    provider_id=_field(data, "id"),
                    sender=_field(data, "from"),
                    recipient=str(data.get("to") or channel.address),
                    body=str(data.get("text") or ""),
                )
            )
        elif action == "call":
            if not isinstance(data, dict):
                raise BadRequest("expected a JSON object")
            outcome = _field(data, "status")
            if outcome not in CALL_OUTCOMES:
                raise BadRequest(
                    f"unknown call status {outcome!r}: use one of {', '.join(CALL_OUTCOMES)}"
                )
            events.append(
                ChannelEvent(
                    kind=CALL_OUTCOMES[outcome],
                    sender=_field(data, "from"),
                    recipient=str(data.get("to") or channel.address),
                    provider_id=_field(data, "id"),
                    extra={"status": outcome},
                )
            )
        elif action == "call-status":
            if not isinstance(data, list):
                raise BadRequest("expected a JSON list of call ends")
            events.extend(_call_end(channel, item) for item in data)
        elif action == "gather":
            if not isinstance(data, dict):
                raise BadRequest("expected a JSON object")
            call_id = _field(data, "id")
            events.append(
                ChannelEvent(
                    kind="call_keypress",
                    sender=_field(data, "from"),
                    recipient=str(data.get("to") or channel.address),
                    provider_id=f"{call_id}:gather",
                    extra={
                        "digits": str(data.get("digits") or ""),
                        "call_id": call_id,
                        "reference": str(data.get("ref") or ""),
                    },
                )
            )
        elif action == "status":
            if not isinstance(data, list):
                raise BadRequest("expected a JSON list of receipts")
            for item in data:
                status = _field(item, "status")
                if status not in {s.value for s in DeliveryStatus}:
                    raise BadRequest(f"unknown status {status!r}")
                events.append(
                    StatusUpdate(
                        provider_id=_field(item, "id"),
                        status=DeliveryStatus(status),
                        error_code=str(item.get("error_code") or ""),
                        reason=str(item.get("reason") or ""),
                    )
                )
        return HookResult(events, body=b'{"ok": true}', content_type="application/json")
