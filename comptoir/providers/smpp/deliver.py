"""What a deliver_sm means: a delivery receipt, a customer's text, or one part of a long one.

Receipts carry the id the SMSC gave in submit_sm_resp, in the `receipted_message_id`
optional parameter and/or in the receipt text (`id:… sub:… dlvrd:… submit date:… done
date:… stat:DELIVRD err:000 text:…`); the parameter wins when both are there.
A long customer text comes as parts (a UDH with an 8- or 16-bit reference, or the SAR
parameters); the parts are held, unanswered, until the set is complete, so the SMSC
delivers them again if we stop before storing the whole text.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field

from comptoir.providers.base import DeliveryStatus, InboundMessage, StatusUpdate
from comptoir.providers.smpp.coding import decode
from comptoir.providers.smpp.pdu import (
    ESM_DELIVERY_RECEIPT,
    ESM_TYPE_MASK,
    ESM_UDHI,
    TLV_MESSAGE_STATE,
    TLV_NETWORK_ERROR_CODE,
    TLV_RECEIPTED_MESSAGE_ID,
    TLV_USER_MESSAGE_REFERENCE,
    Concat,
    PduError,
    ShortMessage,
    sar_concat,
    split_udh,
)

ESM_INTERMEDIATE = 0x20  # intermediate delivery notification: a receipt too
_FIELD = re.compile(r"(id|sub|dlvrd|submit date|done date|stat|err):\s*(\S*)", re.IGNORECASE)
# stat values (SMPP 3.4 appendix B) and message_state TLV values, to our statuses.
STAT = {
    "DELIVRD": DeliveryStatus.DELIVERED,
    "ENROUTE": DeliveryStatus.SENT,
    "ACCEPTD": DeliveryStatus.SENT,
    "UNKNOWN": DeliveryStatus.SENT,
    "EXPIRED": DeliveryStatus.FAILED,
    "DELETED": DeliveryStatus.FAILED,
    "UNDELIV": DeliveryStatus.FAILED,
    "REJECTD": DeliveryStatus.FAILED,
}
MESSAGE_STATE = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}


@dataclass(frozen=True, slots=True)
class MoPart:
    """One part of a long customer text."""

    sender: str
    recipient: str
    text: str
    concat: Concat


def address(value: str, ton: int) -> str:
    """An international number (TON 1) as E.164; anything else as the SMSC wrote it."""
    if ton == 1 and value.isdigit():
        return f"+{value}"
    return value


def is_receipt(sm: ShortMessage) -> bool:
    kind = sm.esm_class & ESM_TYPE_MASK
    return kind in (ESM_DELIVERY_RECEIPT, ESM_INTERMEDIATE)


def _cstring(value: bytes) -> str:
    return value.split(b"\x00", 1)[0].decode("ascii", errors="replace")


def receipt(sm: ShortMessage) -> StatusUpdate:
    """A delivery receipt as a status update; PduError when it names no message."""
    text = sm.short_message.decode("latin-1")
    fields = {k.lower(): v for k, v in _FIELD.findall(text)}
    provider_id = ""
    if TLV_RECEIPTED_MESSAGE_ID in sm.tlvs:
        provider_id = _cstring(sm.tlvs[TLV_RECEIPTED_MESSAGE_ID])
    provider_id = provider_id or fields.get("id", "")
    if not provider_id:
        raise PduError("delivery receipt names no message (no receipted_message_id, no id:)")
    stat = fields.get("stat", "").upper()
    if sm.tlvs.get(TLV_MESSAGE_STATE):
        stat = MESSAGE_STATE.get(sm.tlvs[TLV_MESSAGE_STATE][0], stat)
    if stat not in STAT:
        raise PduError(f"delivery receipt for {provider_id}: unknown stat {stat!r}")
    err = fields.get("err", "")
    if TLV_NETWORK_ERROR_CODE in sm.tlvs and not err:
        err = sm.tlvs[TLV_NETWORK_ERROR_CODE].hex()
    status = STAT[stat]
    if status is DeliveryStatus.FAILED:
        return StatusUpdate(provider_id, status, error_code=stat, reason=f"stat:{stat} err:{err}")
    return StatusUpdate(provider_id, status)


def parse(sm: ShortMessage) -> StatusUpdate | InboundMessage | MoPart:
    """What one deliver_sm says."""
    if is_receipt(sm):
        return receipt(sm)
    data, concat = sm.short_message, sar_concat(sm.tlvs)
    if sm.esm_class & ESM_UDHI:
        data, udh_concat = split_udh(data)
        concat = concat or udh_concat
    text = decode(data, sm.data_coding)
    sender = address(sm.source_addr, sm.source_addr_ton)
    recipient = address(sm.destination_addr, sm.dest_addr_ton)
    if concat is not None and concat.total > 1:
        if not 1 <= concat.number <= concat.total:
            raise PduError(f"part {concat.number} of {concat.total} is out of range")
        return MoPart(sender, recipient, text, concat)
    provider_id = ""
    if TLV_USER_MESSAGE_REFERENCE in sm.tlvs:
        # SMPP 3.4 gives a customer's text no id; some SMSCs set this reference.
        umr = int.from_bytes(sm.tlvs[TLV_USER_MESSAGE_REFERENCE], "big")
        provider_id = f"mo:{sender}:umr:{umr}"
    return InboundMessage(provider_id, sender, recipient, text)


@dataclass
class _Set:
    started: float
    parts: dict[int, str] = field(default_factory=dict)
    held: list[int] = field(default_factory=list)  # sequence numbers to answer


class Reassembler:
    """Holds parts of long texts until each set is complete (or too old)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._sets: dict[tuple[str, str, int, int], _Set] = {}

    def add(self, part: MoPart, sequence: int) -> tuple[InboundMessage, list[int]] | None:
        key = (part.sender, part.recipient, part.concat.reference, part.concat.total)
        held = self._sets.setdefault(key, _Set(time.monotonic()))
        held.parts[part.concat.number] = part.text
        held.held.append(sequence)
        if len(held.parts) < part.concat.total:
            return None
        del self._sets[key]
        return _joined(key, held), held.held

    def expired(self) -> list[tuple[InboundMessage, list[int]]]:
        """Sets whose last part never came: stored with a gap mark rather than lost."""
        limit = time.monotonic() - self.timeout
        old = [k for k, s in self._sets.items() if s.started < limit]
        return [(_joined(k, self._sets[k]), self._sets.pop(k).held) for k in old]

    def clear(self) -> None:
        """The connection dropped: the SMSC delivers every unanswered part again."""
        self._sets.clear()


def _joined(key: tuple[str, str, int, int], held: _Set) -> InboundMessage:
    sender, recipient, reference, total = key
    text = "".join(held.parts.get(n, "[…]") for n in range(1, total + 1))
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    # Stable across a re-delivery of the same parts, so storing it twice is caught.
    provider_id = f"mo:{sender}:{reference}:{total}:{digest}"
    return InboundMessage(provider_id, sender, recipient, text)
