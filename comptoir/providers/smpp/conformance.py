"""The SMPP adapter's conformance table, against a real SMSC process (see peer.py).

SMPP has no webhooks: its incoming cases are deliver_sm PDUs that the SMSC sends over
the adapter's own bind. Each fixture file holds the PDUs (hex, one per line) as an SMSC
sends them, written by node-smpp (tests/smpp_server/make_fixtures.js), not by our codec.
Outgoing behaviours are the loopback SMSC's: accept, reject (ESME_RINVDSTADR),
throttle (ESME_RTHROTTLED), queue_full (ESME_RMSGQFUL), bad_credentials (bind refused),
and down (nothing listens on the channel's port).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from comptoir.providers.base import (
    ChannelConfig,
    DeliveryStatus,
    Event,
    InboundMessage,
    Outcome,
    StatusUpdate,
)
from comptoir.providers.smpp.config import State
from comptoir.providers.smpp.peer import PASSWORD, SYSTEM_ID, Smsc
from comptoir.providers.smpp.sessions import sessions
from comptoir.providers.smpp.type import session_config
from comptoir.providers.testing import ANY, Conformance, IncomingCase, OutgoingCase, message

CUSTOMER = "+33612345678"
SHOP = "+33639980001"
LONG_TEXT = (
    "Bonjour, je voulais savoir si mes lunettes sont prêtes. J'ai déposé l'ordonnance "
    "mardi dernier et on m'avait dit une semaine. Je peux passer samedi matin vers 10h "
    "si c'est bon. Merci beaucoup et bonne journée à toute l'équipe !"
)


def _received(peer: Smsc, body: str, parts: int = 1) -> None:
    submits = peer.submits()[-parts:]
    assert len(submits) == parts, f"the SMSC got {len(submits)} submit_sm, not {parts}"
    assert "".join(s["text"] for s in submits) == body
    assert all(s["outcome"] == "accepted" for s in submits)


def _got(body: str, parts: int = 1) -> Callable[[Any], None]:
    return lambda peer: _received(peer, body, parts)


def _nothing_accepted(peer: Smsc) -> None:
    assert not [s for s in peer.submits() if s["outcome"] == "accepted"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


GSM = message("Vos lunettes sont là ! {10€}")
UCS2 = message("Спасибо, до встречи 😊", encoding="ucs2")
REMINDER = ("Optique Lumière : votre rendez-vous est confirmé jeudi à 15h. " * 6)[:350]
LONG = message(REMINDER, segments=3)


class SmppConformance(Conformance):
    provider = "smpp"
    fixtures = Path(__file__).parent / "fixtures"
    address = "Optique"
    incoming = (
        IncomingCase(
            "customer_text_gsm7",
            "deliver_sm",
            "mo_gsm7.hex",
            [InboundMessage("", CUSTOMER, SHOP, "Oui, je passe demain à 10h. Merci !")],
        ),
        IncomingCase(
            "customer_text_ucs2",
            "deliver_sm",
            "mo_ucs2.hex",
            [InboundMessage("", CUSTOMER, SHOP, "Merci ! 😊 À demain")],
        ),
        IncomingCase(
            "customer_text_3_parts_udh",
            "deliver_sm",
            "mo_udh_3_parts.hex",
            [InboundMessage(ANY, CUSTOMER, SHOP, LONG_TEXT)],
        ),
        IncomingCase(
            "customer_text_2_parts_sar",
            "deliver_sm",
            "mo_sar_2_parts.hex",
            [
                InboundMessage(
                    ANY,
                    CUSTOMER,
                    SHOP,
                    "Je confirme le rendez-vous de jeudi a 15h, avec ma fille. A jeudi !",
                )
            ],
        ),
        IncomingCase(
            "receipt_delivered",
            "deliver_sm",
            "receipt_delivered.hex",
            [StatusUpdate("0a1b2c3d", DeliveryStatus.DELIVERED)],
        ),
        IncomingCase(
            "receipt_undeliverable",
            "deliver_sm",
            "receipt_undeliverable.hex",
            [
                StatusUpdate(
                    "7f00e1",
                    DeliveryStatus.FAILED,
                    error_code="UNDELIV",
                    reason="stat:UNDELIV err:001",
                )
            ],
        ),
        # Refused with ESME_RX_P_APPN: nothing comes of it, and the bind stays.
        IncomingCase("unreadable_udh", "deliver_sm", "mo_bad_udh.hex", []),
    )
    outgoing = (
        OutgoingCase("accept_gsm7", GSM, "accept", Outcome.SENT, _got(GSM.body)),
        OutgoingCase("accept_ucs2", UCS2, "accept", Outcome.SENT, _got(UCS2.body)),
        OutgoingCase("accept_3_parts", LONG, "accept", Outcome.SENT, _got(REMINDER, 3)),
        OutgoingCase("invalid_destination", GSM, "reject", Outcome.REJECTED, _nothing_accepted),
        OutgoingCase("throttled", GSM, "throttle", Outcome.THROTTLED, _nothing_accepted),
        OutgoingCase("queue_full", GSM, "queue_full", Outcome.THROTTLED, _nothing_accepted),
        OutgoingCase(
            "bad_credentials", GSM, "bad_credentials", Outcome.CONFIG_ERROR, _nothing_accepted
        ),
        OutgoingCase("smsc_down", GSM, "down", Outcome.RETRY, _nothing_accepted),
    )

    def __init__(self) -> None:
        self._down = False

    def channel_values(self, peer: Any) -> tuple[dict[str, Any], dict[str, str]]:
        # "down" holds for the one channel made after it (the harness makes one per case).
        port = _free_port() if self._down else peer.port
        self._down = False
        config = {"host": "127.0.0.1", "port": port, "system_id": SYSTEM_ID, "window": 10}
        return config, {"password": PASSWORD}

    @contextmanager
    def peer(self) -> Iterator[Any]:
        smsc = Smsc().start()
        try:
            yield _Peer(self, smsc)
        finally:
            sessions().stop_all()
            smsc.kill()

    def before_send(self, peer: Any, channel: ChannelConfig, case: OutgoingCase) -> None:
        # A fresh bind per case, recording nothing: these channels are not in the database.
        sessions().stop_all()
        sessions().session(channel, session_config(channel), sink=_discard, on_state=_ignore)

    def inject(self, peer: Any, channel: ChannelConfig, case: IncomingCase) -> Sequence[Event]:
        sessions().stop_all()
        events: list[Event] = []

        async def capture(batch: list[Event]) -> None:
            events.extend(batch)

        session = sessions().session(
            channel, session_config(channel), sink=capture, on_state=_ignore
        )
        assert sessions().call(session.wait_bound(10)), session.reason
        lines = self.fixture_bytes(case).decode().split()
        answers = peer.smsc.deliver(*({"hex": line} for line in lines))
        expected = 0 if case.expected else 0x65  # ESME_RX_P_APPN for what cannot be read
        assert [a["status"] for a in answers] == [expected] * len(lines), answers
        assert session.state is State.BOUND
        return events


class _Peer:
    """The SMSC as the harness sees it: `behave(name)`, and the submits as `requests`."""

    def __init__(self, table: SmppConformance, smsc: Smsc) -> None:
        self.table = table
        self.smsc = smsc
        self.port = smsc.port

    def behave(self, name: str) -> None:
        self.table._down = name == "down"
        self.smsc.behave("accept" if name == "down" else name)

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.smsc.submits()

    def submits(self) -> list[dict[str, Any]]:
        return self.smsc.submits()


async def _discard(events: list[Event]) -> None:
    return None


async def _ignore(state: State, reason: str) -> None:
    return None


CONFORMANCE = SmppConformance()
