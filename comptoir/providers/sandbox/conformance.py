"""The sandbox's conformance table, against the simulated network of comptoir.sandbox.carrier.

Its peer is the network itself (database rows, no process): `behave` picks the channel
settings a case runs with, `requests` are the messages the network took in.
"""

from __future__ import annotations

from collections.abc import Iterator
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
from comptoir.providers.sandbox.type import SIGNATURE_HEADER, sign
from comptoir.providers.testing import (
    ANY,
    Conformance,
    IncomingCase,
    OutgoingCase,
    message,
)

JSON = "application/json"
SHOP = "+33639980001"
CUSTOMER = "+33612345678"
CALL_ID = "SB7b6a5f4e3d2c1b0a9f8e7d6c"
# A call Comptoir placed (a voice message) and that message's id, its reference.
PLACED_CALL = "SB4e5f6a7b8c9d0e1f2a3b4c5d"
VOICE_MESSAGE = "0196f0a2-7c3e-7b1a-9d2e-4f5a6b7c8d9e"


class SandboxNetwork:
    """The simulated network seen as a provider's side. Behaviours:

    accept: every message is taken and will be delivered;
    fail_rate: every message is taken and its receipt will say failed (fail_rate 1);
    throttle: the network takes one message a second and the second has already been used.
    """

    BEHAVIOURS = ("accept", "fail_rate", "throttle")

    def __init__(self) -> None:
        self.behaviour = "accept"

    def behave(self, name: str) -> None:
        if name not in self.BEHAVIOURS:
            raise ValueError(f"the sandbox network cannot {name!r}: {', '.join(self.BEHAVIOURS)}")
        self.behaviour = name

    @property
    def requests(self) -> list[Any]:
        from comptoir.sandbox.models import CarrierMessage

        return list(CarrierMessage.objects.filter(direction=CarrierMessage.MT).order_by("id"))

    def taken(self, reference: str) -> Any:
        """The network's record of our message, or None."""
        return next((r for r in self.requests if r.reference == reference), None)


def _taken_as(sent: OutgoingMessage, fate: str, error_code: str) -> Any:
    def check(peer: SandboxNetwork) -> None:
        row = peer.taken(sent.reference)
        assert row is not None, "the network has no record of the message"
        assert (row.recipient, row.body, row.segments) == (sent.to, sent.body, sent.segments)
        assert (row.fate, row.error_code) == (fate, error_code)

    return check


def _not_taken(sent: OutgoingMessage) -> Any:
    def check(peer: SandboxNetwork) -> None:
        assert peer.taken(sent.reference) is None, "a throttled message was taken anyway"

    return check


ACCEPTED = message("Votre commande est prête. Bonne journée !")
UNICODE = message("Vos lunettes sont prêtes 👓", encoding="ucs2")
FAILING = message("Rappel : rendez-vous demain à 10h.")
THROTTLED = message("Promo -20 % ce week-end.")


def _call(kind: str, status: str) -> IncomingCase:
    return IncomingCase(
        name=f"call_{status.replace('-', '_')}",
        action="call",
        fixture=f"call_{status.replace('-', '_')}.json",
        content_type=JSON,
        expected=[ChannelEvent(kind, CUSTOMER, SHOP, CALL_ID, {"status": status})],
    )


class SandboxConformance(Conformance):
    provider = "sandbox"
    fixtures = Path(__file__).parent / "fixtures"
    address = SHOP
    incoming = (
        IncomingCase(
            name="receive_text",
            action="receive",
            fixture="receive_text.json",
            content_type=JSON,
            expected=[
                InboundMessage(
                    "SB5f0c2e9a41d7b3c86e1a0f42",
                    CUSTOMER,
                    SHOP,
                    "Bonjour, mes lunettes sont prêtes ? 👓",
                )
            ],
            response_contains=b'"ok"',
        ),
        IncomingCase(
            name="receive_for_another_number",
            action="receive",
            fixture="receive_other_number.json",
            content_type=JSON,
            expected=[InboundMessage("SB0a7c94e21b5d38f6c2e19d70", "+33698765432", ANY, "OUI")],
        ),
        IncomingCase(
            name="status_list",
            action="status",
            fixture="status_list.json",
            content_type=JSON,
            expected=[
                StatusUpdate("SB1d2c3b4a5f6e7d8c9b0a1f2e", DeliveryStatus.DELIVERED),
                StatusUpdate(
                    "SB9e8f7a6b5c4d3e2f1a0b9c8d",
                    DeliveryStatus.FAILED,
                    "unreachable",
                    "The handset could not be reached (simulated).",
                ),
                StatusUpdate("SB3c4d5e6f7a8b9c0d1e2f3a4b", DeliveryStatus.SENT),
            ],
        ),
        _call("missed_call", "no-answer"),
        _call("missed_call", "busy"),
        _call("missed_call", "failed"),
        _call("call_answered", "completed"),
        IncomingCase(
            name="call_status_list",
            action="call-status",
            fixture="call_status_list.json",
            content_type=JSON,
            expected=[
                ChannelEvent(
                    "call_status",
                    CUSTOMER,
                    SHOP,
                    f"{PLACED_CALL}:completed",
                    {"status": "completed", "call_id": PLACED_CALL, "reference": VOICE_MESSAGE},
                ),
                ChannelEvent("call_status", "+33142685300", SHOP, ANY, ANY),
            ],
        ),
        IncomingCase(
            name="call_keypress",
            action="gather",
            fixture="call_gather.json",
            content_type=JSON,
            expected=[
                ChannelEvent(
                    "call_keypress",
                    CUSTOMER,
                    SHOP,
                    f"{PLACED_CALL}:gather",
                    {"digits": "1", "call_id": PLACED_CALL, "reference": VOICE_MESSAGE},
                )
            ],
        ),
        IncomingCase(
            name="call_status_unknown",
            action="call-status",
            fixture="call_status_unknown.json",
            content_type=JSON,
            expected=[],
            status=400,
            response_contains=b"unknown call status 'voicemail'",
        ),
        IncomingCase(
            name="receive_not_json",
            action="receive",
            fixture="receive_not_json.json",
            content_type=JSON,
            expected=[],
            status=400,
            response_contains=b"not JSON",
        ),
        IncomingCase(
            name="status_unknown_state",
            action="status",
            fixture="status_unknown_state.json",
            content_type=JSON,
            expected=[],
            status=400,
            response_contains=b"unknown status 'read'",
        ),
        IncomingCase(
            name="call_unknown_outcome",
            action="call",
            fixture="call_unknown_outcome.json",
            content_type=JSON,
            expected=[],
            status=400,
            response_contains=b"unknown call status 'voicemail'",
        ),
    )
    outgoing = (
        OutgoingCase(
            "accept", ACCEPTED, "accept", Outcome.SENT, _taken_as(ACCEPTED, "delivered", "")
        ),
        OutgoingCase(
            "accept_unicode", UNICODE, "accept", Outcome.SENT, _taken_as(UNICODE, "delivered", "")
        ),
        OutgoingCase(
            "fail_rate",
            FAILING,
            "fail_rate",
            Outcome.SENT,
            _taken_as(FAILING, "failed", "unreachable"),
        ),
        OutgoingCase("throttle", THROTTLED, "throttle", Outcome.THROTTLED, _not_taken(THROTTLED)),
    )

    def channel_values(self, peer: SandboxNetwork) -> tuple[dict[str, Any], dict[str, str]]:
        config: dict[str, Any] = {"receipt_delay": 1.0, "fail_rate": 0.0, "throttle_per_second": 0}
        if peer.behaviour == "fail_rate":
            config["fail_rate"] = 1.0
        elif peer.behaviour == "throttle":
            config["throttle_per_second"] = 1
        return config, {"webhook_secret": "sbx-whsec-7f3a9c2e51d04b86"}

    def authenticate(self, channel: ChannelConfig, request: WebhookRequest) -> dict[str, str]:
        return {SIGNATURE_HEADER: sign(channel.secrets["webhook_secret"], request.body)}

    @contextmanager
    def peer(self) -> Iterator[SandboxNetwork]:
        yield SandboxNetwork()

    def before_send(self, peer: SandboxNetwork, channel: ChannelConfig, case: OutgoingCase) -> None:
        if peer.behaviour == "throttle":
            from comptoir.sandbox.carrier import submit

            # Another message used this second's only slot.
            submit(channel, [message("Premier message de la seconde.")])


CONFORMANCE = SandboxConformance()
