"""Calls: the shop's line forwarded to the shop's phone, and outbound calls that speak.

Inbound: Twilio asks `voice` what to do with a call to the channel's number; we answer
TwiML that rings the shop's phone for the configured time, and Twilio posts the outcome
to `dial`: no answer, busy, failed or hung up early is a missed call, anything else an
answered one.

Outbound (automations): `call_form` is the Calls.json request; Twilio posts key presses
to `gather` and the call's final state to `call-status`. Our reference travels in those
URLs' query (`?ref=`), which Twilio signs with the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlencode

from comptoir.providers.base import BadRequest, ChannelConfig, ChannelEvent, Event, VoiceCall
from comptoir.providers.twilio import twiml
from comptoir.providers.twilio.sms import required

# DialCallStatus → the event the inbox knows.
DIAL_OUTCOMES = {
    "completed": "call_answered",
    "answered": "call_answered",
    "no-answer": "missed_call",
    "busy": "missed_call",
    "failed": "missed_call",
    "canceled": "missed_call",  # the caller hung up while it rang
}
# CallStatus values that end an outbound call; the others (queued, ringing…) are progress.
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
DEFAULT_RING_SECONDS = 20

HookUrl = Callable[[str], str]  # action → the absolute URL of /hooks/<uuid>/<action>


def ring_seconds(channel: ChannelConfig) -> int:
    try:
        seconds = int(channel.config.get("ring_timeout") or DEFAULT_RING_SECONDS)
    except (TypeError, ValueError):
        seconds = DEFAULT_RING_SECONDS
    return max(5, min(seconds, 600))  # Twilio's <Dial timeout> range


def incoming_call(
    channel: ChannelConfig, params: Mapping[str, str], hook_url: HookUrl
) -> tuple[list[Event], bytes]:
    """Ring the shop's phone; with none configured, the call is refused and counts as missed."""
    required(params, "CallSid")
    forward = str(channel.config.get("forward_to") or "")
    if forward:
        return [], twiml.dial(forward, timeout=ring_seconds(channel), action=hook_url("dial"))
    event = ChannelEvent(
        kind="missed_call",
        sender=required(params, "From"),
        recipient=params.get("To") or channel.address,
        provider_id=params["CallSid"],
        extra={"status": "not_forwarded"},
    )
    return [event], twiml.reject()


def dial_outcome(channel: ChannelConfig, params: Mapping[str, str]) -> tuple[list[Event], bytes]:
    status = required(params, "DialCallStatus")
    kind = DIAL_OUTCOMES.get(status)
    if kind is None:
        raise BadRequest(f"unknown DialCallStatus {status!r}")
    event = ChannelEvent(
        kind=kind,
        sender=required(params, "From"),
        recipient=params.get("To") or channel.address,
        provider_id=required(params, "CallSid"),
        extra={"status": status, "duration": params.get("DialCallDuration", "")},
    )
    return [event], twiml.hangup()


def _outbound_sides(channel: ChannelConfig, params: Mapping[str, str]) -> tuple[str, str]:
    # On a call we placed, Twilio's From is our number and To the customer: the event's
    # sender is the customer, as on every other channel event.
    return required(params, "To"), params.get("From") or channel.address


def keypress(
    channel: ChannelConfig, params: Mapping[str, str], query: Mapping[str, str]
) -> tuple[list[Event], bytes]:
    """The keys pressed after the message ("" when none before the timeout)."""
    sid = required(params, "CallSid")
    customer, ours = _outbound_sides(channel, params)
    event = ChannelEvent(
        kind="call_keypress",
        sender=customer,
        recipient=ours,
        provider_id=f"{sid}:gather",
        extra={
            "digits": params.get("Digits", ""),
            "call_id": sid,
            "reference": query.get("ref", ""),
        },
    )
    return [event], twiml.hangup()


def call_status(
    channel: ChannelConfig, params: Mapping[str, str], query: Mapping[str, str]
) -> list[Event]:
    """The end of a call we placed: answered (completed), busy, failed, no-answer, canceled."""
    sid = required(params, "CallSid")
    status = required(params, "CallStatus")
    if status not in FINAL_CALL_STATUSES:
        return []
    customer, ours = _outbound_sides(channel, params)
    return [
        ChannelEvent(
            kind="call_status",
            sender=customer,
            recipient=ours,
            provider_id=f"{sid}:{status}",
            extra={
                "status": status,
                "call_id": sid,
                "reference": query.get("ref", ""),
                "duration": params.get("CallDuration", ""),
            },
        )
    ]


def call_form(channel: ChannelConfig, call: VoiceCall, hook_url: HookUrl) -> list[tuple[str, str]]:
    """The Calls.json form: the TwiML inline, callbacks carrying our reference."""
    ref = "?" + urlencode({"ref": call.reference})
    document = twiml.say_and_gather(
        call.say_text,
        language=call.language,
        digits=call.gather_digits,
        action=hook_url("gather") + ref,
    )
    return [
        ("To", call.to),
        ("From", call.sender or channel.address),
        ("Twiml", document.decode()),
        ("Timeout", str(max(5, min(call.timeout, 600)))),
        ("StatusCallback", hook_url("call-status") + ref),
        ("StatusCallbackMethod", "POST"),
    ]
