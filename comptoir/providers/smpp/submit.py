"""From an outgoing message to submit_sm PDUs, and from their answers to one outcome.

A long text goes as parts: concatenated by a user data header (8-bit reference) or, with
`use_sar`, by the SAR optional parameters. A delivery receipt is asked for on the last
part only, and the message's provider id is that part's message_id, so the receipt
that comes back names the message.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from comptoir.providers.base import Outcome, OutgoingMessage, SendResult
from comptoir.providers.smpp.coding import encode_parts
from comptoir.providers.smpp.pdu import (
    ESM_UDHI,
    ESME_RMSGQFUL,
    ESME_RTHROTTLED,
    TLV_SAR_MSG_REF_NUM,
    TLV_SAR_SEGMENT_SEQNUM,
    TLV_SAR_TOTAL_SEGMENTS,
    PduError,
    ShortMessage,
    status_name,
    udh_concat,
)

if TYPE_CHECKING:
    from comptoir.providers.smpp.config import SessionConfig


@dataclass(frozen=True, slots=True)
class PartAnswer:
    """What became of one submit_sm."""

    status: int | None = None  # the submit_sm_resp's command_status, if one came
    message_id: str = ""
    error: str = ""  # no answer: why
    written: bool = False  # the PDU reached the socket: the SMSC may have it

    @property
    def accepted(self) -> bool:
        return self.status == 0

    @property
    def throttled(self) -> bool:
        return self.status in (ESME_RTHROTTLED, ESME_RMSGQFUL)

    @property
    def unconfirmed(self) -> bool:
        return self.status is None and self.written


def address_type(sender: str) -> tuple[str, int, int]:
    """(address, TON, NPI): international numbers 1/1, other digits 0/1, names 5/0."""
    if sender.startswith("+") and sender[1:].isdigit():
        return sender[1:], 1, 1
    if sender.isdigit():
        return sender, 0, 1
    return sender, 5, 0


def message_pdus(message: OutgoingMessage, config: SessionConfig, reference: int) -> list[bytes]:
    """The submit_sm bodies of a message, one per part, all encoded before any is sent.

    Raises PduError naming the field that cannot be sent (an address too long, not ASCII).
    """
    encoded = encode_parts(message.body, message.encoding)
    source, ton, npi = address_type(message.sender)
    if config.source_ton is not None:
        ton = config.source_ton
    if config.source_npi is not None:
        npi = config.source_npi
    destination, dest_ton, dest_npi = address_type(message.to)
    total = len(encoded.parts)
    pdus = []
    for number, text in enumerate(encoded.parts, start=1):
        esm_class, tlvs = 0, {}
        if total > 1 and config.use_sar:
            tlvs = {
                TLV_SAR_MSG_REF_NUM: struct.pack(">H", reference),
                TLV_SAR_TOTAL_SEGMENTS: bytes([total]),
                TLV_SAR_SEGMENT_SEQNUM: bytes([number]),
            }
        elif total > 1:
            esm_class, text = ESM_UDHI, udh_concat(reference, total, number) + text
        pdus.append(
            ShortMessage(
                source_addr=source,
                destination_addr=destination,
                short_message=text,
                source_addr_ton=ton,
                source_addr_npi=npi,
                dest_addr_ton=dest_ton,
                dest_addr_npi=dest_npi,
                esm_class=esm_class,
                registered_delivery=1 if number == total else 0,
                data_coding=encoded.data_coding,
                tlvs=tlvs,
            ).encode()
        )
    return pdus


def unsendable(error: PduError) -> SendResult:
    """A message whose submit_sm cannot be built: the sender is the channel's setting."""
    if "source_addr" in str(error):
        return SendResult(Outcome.CONFIG_ERROR, error_code="smpp_sender", reason=str(error))
    return SendResult(Outcome.REJECTED, error_code="smpp_encoding", reason=str(error))


def not_bound(refused: bool, reason: str, retry_after: float) -> SendResult:
    """Nothing was written: the message waits (bad credentials) or tries again later."""
    if refused:
        return SendResult(
            Outcome.CONFIG_ERROR, error_code="bind_refused", reason=reason, retry_after=retry_after
        )
    return SendResult(
        Outcome.RETRY, error_code="smsc_unreachable", reason=reason or "not bound to the SMSC"
    )


def outcome(answers: Sequence[PartAnswer], pause: float) -> SendResult | None:
    """One message's outcome from its parts' answers; None when the SMSC may have it
    but never said (it must then be neither retried nor called failed)."""
    total = len(answers)
    if all(a.accepted for a in answers):
        return SendResult.sent(answers[-1].message_id)
    accepted = any(a.accepted for a in answers)
    if any(a.unconfirmed for a in answers) or (
        accepted and any(not a.written and not a.throttled for a in answers)
    ):
        return None
    for number, answer in enumerate(answers, start=1):
        if answer.status and not answer.throttled:
            name = status_name(answer.status)
            where = f" (part {number} of {total}; the other parts were sent)" if accepted else ""
            return SendResult(
                Outcome.REJECTED, error_code=name, reason=f"the SMSC refused it: {name}{where}"
            )
    throttled = next((a for a in answers if a.throttled), None)
    if throttled is not None and throttled.status is not None:
        name = status_name(throttled.status)
        if accepted:
            return SendResult(
                Outcome.REJECTED,
                error_code=name,
                reason=f"the SMSC kept refusing a part ({name}) after accepting the others",
            )
        return SendResult(
            Outcome.THROTTLED,
            error_code=name,
            reason=f"the SMSC asked us to slow down ({name})",
            retry_after=pause,
        )
    error = next((a.error for a in answers if a.error), "not bound to the SMSC")
    return SendResult(Outcome.RETRY, error_code="smsc_unreachable", reason=error)
