"""Twilio's conformance table: replayed webhooks from fixtures/, sends against a local peer.

The peer is `peer.TwilioPeer`, a real HTTP server on loopback answering like Twilio's
REST API; its behaviours ("accept", "reject:<code>", "unauthorized", "throttle",
"error", "drop") are listed in that module. Webhooks are signed the way Twilio signs
them (`signature.compute` over the URL and the form).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from comptoir.providers.base import (
    ChannelConfig,
    ChannelEvent,
    DeliveryStatus,
    InboundMessage,
    Outcome,
    OutgoingMessage,
    StatusUpdate,
    WebhookRequest,
)
from comptoir.providers.testing import ANY, Conformance, IncomingCase, OutgoingCase, message
from comptoir.providers.twilio import signature
from comptoir.providers.twilio.peer import TwilioPeer, twilio_peer

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"  # the fixtures' account
AUTH_TOKEN = "twilio-auth-token-5e1f0c9d"
SHOP = "+33639980042"
CUSTOMER = "+33612345678"
SMS_SID = "SM5f3b4e1c2a7d4c0f9e8b7a6d5c4b3a21"
MMS_SID = "MM8a1e2d3c4b5a69788796a5b4c3d2e1f0"
OUT_SID = "SM2b7c9d1e3f5a4b6c8d0e2f4a6b8c0d1e"
STOPPED_SID = "SM4d6e8f0a2b4c6d8e0f2a4b6c8d0e2f4a"
CALL_SID = "CA9e8d7c6b5a49382716f5e4d3c2b1a0f9"
OUT_CALL_SID = "CA0a9b8c7d6e5f40312a3b4c5d6e7f8091"
SMS_TEXT = "Bonjour, mes lunettes sont-elles prêtes ? & merci"
MMS_TEXT = "La monture cassée"
MEDIA_URL = (
    f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MMS_SID}"
    "/Media/ME0f1e2d3c4b5a69788796a5b4c3d2e1f"
)


def _posted(sent: OutgoingMessage) -> Callable[[TwilioPeer], None]:
    """The last request is this message's create, as Twilio documents it."""

    def check(peer: TwilioPeer) -> None:
        request = peer.requests[-1]
        assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        assert (request.value("To"), request.value("Body")) == (sent.to, sent.body)
        assert request.value("From") == SHOP
        assert request.value("StatusCallback").endswith("/status")

    return check


_accepted = message("Bonjour, vos lunettes sont prêtes. Optique Lumière")


def _dial(status: str, kind: str, duration: str) -> ChannelEvent:
    return ChannelEvent(
        kind=kind,
        sender=CUSTOMER,
        recipient=SHOP,
        provider_id=CALL_SID,
        extra={"status": status, "duration": duration},
    )


class TwilioConformance(Conformance):
    provider = "twilio"
    fixtures = Path(__file__).parent / "fixtures"
    address = SHOP
    incoming = (
        IncomingCase(
            "receive_sms",
            "receive",
            "sms-received.txt",
            [InboundMessage(SMS_SID, CUSTOMER, SHOP, SMS_TEXT)],
            response_contains=b"<Response />",
        ),
        IncomingCase(
            "receive_mms",
            "receive",
            "mms-received.txt",
            [InboundMessage(MMS_SID, CUSTOMER, SHOP, f"{MMS_TEXT}\n[image/jpeg] {MEDIA_URL}")],
        ),
        IncomingCase(
            "status_sent",
            "status",
            "status-sent.txt",
            [StatusUpdate(OUT_SID, DeliveryStatus.SENT)],
        ),
        IncomingCase(
            "status_delivered",
            "status",
            "status-delivered.txt",
            [StatusUpdate(OUT_SID, DeliveryStatus.DELIVERED)],
        ),
        IncomingCase(
            "status_undelivered",
            "status",
            "status-undelivered.txt",
            [StatusUpdate(OUT_SID, DeliveryStatus.FAILED, "30003", ANY)],
        ),
        IncomingCase(
            "status_failed_opted_out",
            "status",
            "status-failed-21610.txt",
            [
                StatusUpdate(STOPPED_SID, DeliveryStatus.FAILED, "21610", ANY),
                ChannelEvent(
                    "opt_out",
                    CUSTOMER,
                    SHOP,
                    STOPPED_SID,
                    {"error_code": "21610", "message_sid": STOPPED_SID},
                ),
            ],
        ),
        IncomingCase("status_queued_says_nothing", "status", "status-queued.txt", []),
        IncomingCase(
            "voice_rings_the_shop",
            "voice",
            "voice-incoming.txt",
            [],
            response_contains=b'<Dial timeout="20" action="http',
        ),
        IncomingCase(
            "dial_no_answer",
            "dial",
            "dial-no-answer.txt",
            [_dial("no-answer", "missed_call", "")],
            response_contains=b"<Hangup />",
        ),
        IncomingCase("dial_busy", "dial", "dial-busy.txt", [_dial("busy", "missed_call", "")]),
        IncomingCase(
            "dial_completed",
            "dial",
            "dial-completed.txt",
            [_dial("completed", "call_answered", "42")],
        ),
        IncomingCase(
            "call_status_completed",
            "call-status",
            "call-status-completed.txt",
            [
                ChannelEvent(
                    "call_status",
                    CUSTOMER,
                    SHOP,
                    f"{OUT_CALL_SID}:completed",
                    {
                        "status": "completed",
                        "call_id": OUT_CALL_SID,
                        "reference": "reminder-42",
                        "duration": "23",
                    },
                )
            ],
            query="ref=reminder-42",
        ),
        IncomingCase(
            "call_status_no_answer",
            "call-status",
            "call-status-no-answer.txt",
            [ChannelEvent("call_status", CUSTOMER, SHOP, f"{OUT_CALL_SID}:no-answer", ANY)],
            query="ref=reminder-42",
        ),
        IncomingCase(
            "gather_digits",
            "gather",
            "gather-digits.txt",
            [
                ChannelEvent(
                    "call_keypress",
                    CUSTOMER,
                    SHOP,
                    f"{OUT_CALL_SID}:gather",
                    {"digits": "1", "call_id": OUT_CALL_SID, "reference": "reminder-42"},
                )
            ],
            query="ref=reminder-42",
            response_contains=b"<Hangup />",
        ),
        IncomingCase(
            "gather_no_key",
            "gather",
            "gather-empty.txt",
            [
                ChannelEvent(
                    "call_keypress",
                    CUSTOMER,
                    SHOP,
                    f"{OUT_CALL_SID}:gather",
                    {"digits": "", "call_id": OUT_CALL_SID, "reference": "reminder-42"},
                )
            ],
            query="ref=reminder-42",
        ),
        IncomingCase(
            "dial_without_status",
            "dial",
            "voice-incoming.txt",
            [],
            status=400,
            response_contains=b"DialCallStatus",
        ),
    )
    outgoing = (
        OutgoingCase("accepted", _accepted, "accept", Outcome.SENT, _posted(_accepted)),
        OutgoingCase("invalid_number", message(to="+336"), "reject:21211", Outcome.REJECTED),
        OutgoingCase("not_a_mobile", message(to="+33140000000"), "reject:21614", Outcome.REJECTED),
        OutgoingCase("recipient_stopped", message(), "reject:21610", Outcome.CONTACT_STOPPED),
        OutgoingCase("bad_credentials", message(), "unauthorized", Outcome.CONFIG_ERROR),
        OutgoingCase("throttled", message(), "throttle", Outcome.THROTTLED),
        OutgoingCase("server_error", message(), "error", Outcome.RETRY),
        # The request was written, the answer lost: maybe sent, so never sent again.
        OutgoingCase("connection_dropped", message(), "drop", Outcome.UNCONFIRMED),
    )

    def channel_values(self, peer: Any) -> tuple[dict[str, Any], dict[str, str]]:
        config = {
            "account_sid": ACCOUNT_SID,
            "api_base_url": peer.url,
            "forward_to": "+33611223344",
            "connections": 1,
        }
        return config, {"auth_token": AUTH_TOKEN}

    def authenticate(self, channel: ChannelConfig, request: WebhookRequest) -> dict[str, str]:
        params = signature.form_params(request.body)
        token = channel.secrets["auth_token"]
        return {"X-Twilio-Signature": signature.compute(token, request.url, params)}

    @contextmanager
    def peer(self) -> Iterator[Any]:
        with twilio_peer(ACCOUNT_SID, AUTH_TOKEN) as peer:
            yield peer


CONFORMANCE = TwilioConformance()
