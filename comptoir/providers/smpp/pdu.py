"""SMPP 3.4 PDUs: the few this adapter speaks, encoded and decoded by hand.

A PDU is a 16-octet header (command_length, command_id, command_status,
sequence_number, big-endian) and a body. Bytes that are not a PDU raise `PduError` naming
the field and what is wrong with it; the session then drops the connection and binds
again, since after a framing error nothing that follows on the stream can be trusted.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

HEADER = struct.Struct(">IIII")
# Our longest PDU is a submit_sm with a 254-octet message and a few TLVs; SMSCs stay far
# below this. A bigger length means the stream is not SMPP (an HTTP banner reads as ~1 GB).
MAX_PDU_LENGTH = 64 * 1024
GENERIC_NACK = 0x80000000
RESPONSE = 0x80000000


class Command(IntEnum):
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    GENERIC_NACK = 0x80000000


# command_status values of SMPP 3.4 (section 5.1.3), by name.
STATUS_NAMES = {
    0x00: "ESME_ROK",
    0x01: "ESME_RINVMSGLEN",
    0x02: "ESME_RINVCMDLEN",
    0x03: "ESME_RINVCMDID",
    0x04: "ESME_RINVBNDSTS",
    0x05: "ESME_RALYBND",
    0x06: "ESME_RINVPRTFLG",
    0x07: "ESME_RINVREGDLVFLG",
    0x08: "ESME_RSYSERR",
    0x0A: "ESME_RINVSRCADR",
    0x0B: "ESME_RINVDSTADR",
    0x0C: "ESME_RINVMSGID",
    0x0D: "ESME_RBINDFAIL",
    0x0E: "ESME_RINVPASWD",
    0x0F: "ESME_RINVSYSID",
    0x11: "ESME_RCANCELFAIL",
    0x13: "ESME_RREPLACEFAIL",
    0x14: "ESME_RMSGQFUL",
    0x15: "ESME_RINVSERTYP",
    0x33: "ESME_RINVNUMDESTS",
    0x34: "ESME_RINVDLNAME",
    0x40: "ESME_RINVDESTFLAG",
    0x42: "ESME_RINVSUBREP",
    0x43: "ESME_RINVESMCLASS",
    0x44: "ESME_RCNTSUBDL",
    0x45: "ESME_RSUBMITFAIL",
    0x48: "ESME_RINVSRCTON",
    0x49: "ESME_RINVSRCNPI",
    0x50: "ESME_RINVDSTTON",
    0x51: "ESME_RINVDSTNPI",
    0x53: "ESME_RINVSYSTYP",
    0x54: "ESME_RINVREPFLAG",
    0x55: "ESME_RINVNUMMSGS",
    0x58: "ESME_RTHROTTLED",
    0x61: "ESME_RINVSCHED",
    0x62: "ESME_RINVEXPIRY",
    0x63: "ESME_RINVDFTMSGID",
    0x64: "ESME_RX_T_APPN",
    0x65: "ESME_RX_P_APPN",
    0x66: "ESME_RX_R_APPN",
    0x67: "ESME_RQUERYFAIL",
    0xC0: "ESME_RINVOPTPARSTREAM",
    0xC1: "ESME_ROPTPARNOTALLWD",
    0xC2: "ESME_RINVPARLEN",
    0xC3: "ESME_RMISSINGOPTPARAM",
    0xC4: "ESME_RINVOPTPARAMVAL",
    0xFE: "ESME_RDELIVERYFAILURE",
    0xFF: "ESME_RUNKNOWNERR",
}
STATUS = {name: code for code, name in STATUS_NAMES.items()}
ESME_ROK = 0x00
ESME_RINVCMDID = 0x03
ESME_RTHROTTLED = 0x58
ESME_RMSGQFUL = 0x14
ESME_RX_T_APPN = 0x64  # "temporary application error": the SMSC delivers again later


def status_name(code: int) -> str:
    return STATUS_NAMES.get(code, f"0x{code:08X}")


# Optional parameters (TLV tags) this adapter reads or writes.
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_USER_MESSAGE_REFERENCE = 0x0204
TLV_SAR_MSG_REF_NUM = 0x020C
TLV_SAR_TOTAL_SEGMENTS = 0x020E
TLV_SAR_SEGMENT_SEQNUM = 0x020F
TLV_NETWORK_ERROR_CODE = 0x0423
TLV_MESSAGE_STATE = 0x0427
TLV_MESSAGE_PAYLOAD = 0x0424

ESM_UDHI = 0x40  # esm_class bit: short_message starts with a user data header
ESM_TYPE_MASK = 0x3C
ESM_DELIVERY_RECEIPT = 0x04


class PduError(ValueError):
    """Bytes that are not a valid SMPP 3.4 PDU; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class Header:
    length: int
    command_id: int
    status: int
    sequence: int

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE)


def parse_header(data: bytes) -> Header:
    """The header of the next PDU; raises PduError when it cannot start a PDU."""
    if len(data) < HEADER.size:
        raise PduError(f"header needs {HEADER.size} octets, got {len(data)}")
    length, command_id, status, sequence = HEADER.unpack_from(data)
    if length < HEADER.size:
        raise PduError(f"command_length {length} is shorter than the 16-octet header")
    if length > MAX_PDU_LENGTH:
        raise PduError(f"command_length {length} is over the {MAX_PDU_LENGTH}-octet limit")
    # Unknown requests are answered generic_nack; only absurd ids mean garbage.
    if not command_id & RESPONSE and command_id > 0x000001FF:
        raise PduError(f"command_id 0x{command_id:08X} is no SMPP command")
    return Header(length, command_id, status, sequence)


def encode(command_id: int, sequence: int, body: bytes = b"", status: int = ESME_ROK) -> bytes:
    return HEADER.pack(HEADER.size + len(body), command_id, status, sequence) + body


def cstring(value: str, limit: int, name: str) -> bytes:
    """A C-octet string of at most `limit` octets including its NUL.

    Errors name the field, never its value: it may be the password.
    """
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raise PduError(f"{name} has characters outside ASCII") from None
    if len(raw) + 1 > limit:
        raise PduError(f"{name} is longer than {limit - 1} characters")
    return raw + b"\x00"


class Reader:
    """Reads a PDU body field by field, naming the field in every error."""

    def __init__(self, body: bytes, command: str) -> None:
        self.body = body
        self.offset = 0
        self.command = command

    def cstring(self, name: str, limit: int) -> str:
        end = self.body.find(b"\x00", self.offset, self.offset + limit)
        if end < 0:
            raise PduError(
                f"{self.command}.{name}: no NUL terminator within {limit} octets "
                f"at offset {self.offset}"
            )
        raw = self.body[self.offset : end]
        self.offset = end + 1
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise PduError(f"{self.command}.{name}: not ASCII ({raw!r})") from exc

    def octet(self, name: str) -> int:
        if self.offset >= len(self.body):
            raise PduError(f"{self.command}.{name}: body ends at offset {self.offset}")
        value = self.body[self.offset]
        self.offset += 1
        return value

    def octets(self, name: str, count: int) -> bytes:
        if self.offset + count > len(self.body):
            raise PduError(
                f"{self.command}.{name}: needs {count} octets, {len(self.body) - self.offset} left"
            )
        value = self.body[self.offset : self.offset + count]
        self.offset += count
        return value

    def tlvs(self) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        while self.offset < len(self.body):
            head = self.octets("tlv header", 4)
            tag, length = struct.unpack(">HH", head)
            found[tag] = self.octets(f"tlv 0x{tag:04X}", length)
        return found


@dataclass(frozen=True, slots=True)
class ShortMessage:
    """The body of a submit_sm or deliver_sm (the same fields in SMPP 3.4)."""

    source_addr: str
    destination_addr: str
    short_message: bytes = b""
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    dest_addr_ton: int = 1
    dest_addr_npi: int = 1
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    registered_delivery: int = 0
    data_coding: int = 0
    tlvs: dict[int, bytes] = field(default_factory=dict)

    def encode(self) -> bytes:
        if len(self.short_message) > 254:
            raise PduError(f"short_message is {len(self.short_message)} octets, over 254")
        parts = [
            cstring(self.service_type, 6, "service_type"),
            bytes([self.source_addr_ton, self.source_addr_npi]),
            cstring(self.source_addr, 21, "source_addr"),
            bytes([self.dest_addr_ton, self.dest_addr_npi]),
            cstring(self.destination_addr, 21, "destination_addr"),
            bytes([self.esm_class, self.protocol_id, self.priority_flag]),
            b"\x00\x00",  # schedule_delivery_time, validity_period: SMSC defaults
            bytes([self.registered_delivery, 0, self.data_coding, 0]),
            bytes([len(self.short_message)]),
            self.short_message,
        ]
        for tag, value in self.tlvs.items():
            parts.append(struct.pack(">HH", tag, len(value)) + value)
        return b"".join(parts)

    @classmethod
    def decode(cls, body: bytes, command: str) -> ShortMessage:
        r = Reader(body, command)
        service_type = r.cstring("service_type", 6)
        source_ton, source_npi = r.octet("source_addr_ton"), r.octet("source_addr_npi")
        source = r.cstring("source_addr", 21)
        dest_ton, dest_npi = r.octet("dest_addr_ton"), r.octet("dest_addr_npi")
        dest = r.cstring("destination_addr", 21)
        esm_class = r.octet("esm_class")
        protocol_id = r.octet("protocol_id")
        priority = r.octet("priority_flag")
        r.cstring("schedule_delivery_time", 17)
        r.cstring("validity_period", 17)
        registered = r.octet("registered_delivery")
        r.octet("replace_if_present_flag")
        data_coding = r.octet("data_coding")
        r.octet("sm_default_msg_id")
        length = r.octet("sm_length")
        text = r.octets("short_message", length)
        tlvs = r.tlvs()
        return cls(
            source_addr=source,
            destination_addr=dest,
            short_message=text,
            service_type=service_type,
            source_addr_ton=source_ton,
            source_addr_npi=source_npi,
            dest_addr_ton=dest_ton,
            dest_addr_npi=dest_npi,
            esm_class=esm_class,
            protocol_id=protocol_id,
            priority_flag=priority,
            registered_delivery=registered,
            data_coding=data_coding,
            tlvs=tlvs,
        )


def bind_transceiver(
    sequence: int, *, system_id: str, password: str, system_type: str, ton: int, npi: int
) -> bytes:
    body = b"".join(
        [
            cstring(system_id, 16, "system_id"),
            cstring(password, 9, "password"),
            cstring(system_type, 13, "system_type"),
            bytes([0x34, ton, npi]),  # interface_version 3.4, addr_ton, addr_npi
            b"\x00",  # address_range: any
        ]
    )
    return encode(Command.BIND_TRANSCEIVER, sequence, body)


def response_id(body: bytes, command: str, name: str) -> str:
    """The C-string at the start of a response body (system_id, message_id); "" if absent."""
    if not body:
        return ""  # an error response may come without a body
    return Reader(body, command).cstring(name, 65)


def udh_concat(reference: int, total: int, number: int) -> bytes:
    """A user data header for part `number` of `total`, 8-bit reference (IEI 0x00)."""
    return bytes([5, 0x00, 3, reference & 0xFF, total, number])


@dataclass(frozen=True, slots=True)
class Concat:
    reference: int
    total: int
    number: int


def split_udh(data: bytes) -> tuple[bytes, Concat | None]:
    """(text, concatenation info) of a short_message that starts with a UDH."""
    if not data:
        raise PduError("short_message: UDH indicated but the message is empty")
    length = data[0]
    if length + 1 > len(data):
        raise PduError(f"short_message: UDH length {length} is past the message's end")
    header, text = data[1 : length + 1], data[length + 1 :]
    concat = None
    i = 0
    while i + 2 <= len(header):
        iei, size = header[i], header[i + 1]
        value = header[i + 2 : i + 2 + size]
        if len(value) < size:
            raise PduError(f"short_message: UDH element 0x{iei:02X} is truncated")
        if iei == 0x00 and size == 3:
            concat = Concat(value[0], value[1], value[2])
        elif iei == 0x08 and size == 4:
            concat = Concat(int.from_bytes(value[:2], "big"), value[2], value[3])
        i += 2 + size
    return text, concat


def sar_concat(tlvs: dict[int, bytes]) -> Concat | None:
    """Concatenation info from the SAR optional parameters, when present."""
    if TLV_SAR_MSG_REF_NUM not in tlvs:
        return None
    try:
        (reference,) = struct.unpack(">H", tlvs[TLV_SAR_MSG_REF_NUM])
        total = tlvs[TLV_SAR_TOTAL_SEGMENTS][0]
        number = tlvs[TLV_SAR_SEGMENT_SEQNUM][0]
    except (KeyError, IndexError, struct.error) as exc:
        raise PduError(f"SAR parameters incomplete or malformed: {exc}") from exc
    return Concat(reference, total, number)
