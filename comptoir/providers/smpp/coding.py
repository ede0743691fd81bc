"""Text on the wire: data_coding 0 (GSM-7 default alphabet) and 8 (UCS-2), split into parts.

data_coding 0 is sent as the SMSC expects it by default: one septet per octet, unpacked
(the SMSC packs for the air interface), extension characters as ESC (0x1B) + code.
Parts follow the GSM limits (153 septets or 67 UCS-2 units after a concatenation header),
split by `comptoir.messaging.encoding.split` so the parts match the segment count the
outbox charged, and never inside an escape pair or a surrogate pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from comptoir.messaging.encoding import GSM7_BASIC, Encoding, is_gsm7, split
from comptoir.providers.smpp.pdu import PduError

DC_DEFAULT = 0x00
DC_IA5 = 0x01
DC_LATIN1 = 0x03
DC_UCS2 = 0x08
ESC = 0x1B
# The default alphabet in table order, with the escape at 0x1B.
_TABLE = GSM7_BASIC[:0x1B] + "\x1b" + GSM7_BASIC[0x1B:]
_EXTENSION = {
    "\x0c": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_ENCODE = {ch: i for i, ch in enumerate(_TABLE) if i != ESC}
_DECODE_EXTENSION = {code: ch for ch, code in _EXTENSION.items()}


def gsm7_encode(text: str) -> bytes:
    out = bytearray()
    for ch in text:
        code = _ENCODE.get(ch)
        if code is not None:
            out.append(code)
        elif ch in _EXTENSION:
            out += bytes([ESC, _EXTENSION[ch]])
        else:
            raise ValueError(f"{ch!r} is not in the GSM-7 alphabet")
    return bytes(out)


def gsm7_decode(data: bytes) -> str:
    chars = []
    escaped = False
    for octet in data:
        if octet > 0x7F:
            raise PduError(f"short_message: octet 0x{octet:02X} is not a GSM-7 septet")
        if escaped:
            # An unknown extension code shows the base character (3GPP TS 23.038).
            chars.append(_DECODE_EXTENSION.get(octet, _TABLE[octet]))
            escaped = False
        elif octet == ESC:
            escaped = True
        else:
            chars.append(_TABLE[octet])
    return "".join(chars)


def decode(data: bytes, data_coding: int) -> str:
    """The text of a received short_message (without its UDH)."""
    if data_coding == DC_UCS2:
        if len(data) % 2:
            raise PduError(f"short_message: UCS-2 text has an odd length ({len(data)} octets)")
        return data.decode("utf-16-be", errors="replace")
    if data_coding == DC_DEFAULT or 0xF0 <= data_coding <= 0xF3:  # 0xF0-F3: GSM-7 + class
        return gsm7_decode(data)
    if data_coding == DC_IA5:
        return data.decode("ascii", errors="replace")
    if data_coding == DC_LATIN1:
        return data.decode("latin-1")
    raise PduError(f"data_coding 0x{data_coding:02X} is not a text coding this adapter reads")


@dataclass(frozen=True, slots=True)
class Encoded:
    data_coding: int
    parts: list[bytes]  # each part's text, encoded, without any header


def encode_parts(text: str, encoding: str) -> Encoded:
    """The parts to submit: GSM-7 when asked and possible, else UCS-2."""
    if encoding == Encoding.GSM7 and is_gsm7(text):
        return Encoded(DC_DEFAULT, [gsm7_encode(p) for p in split(text, encoding=Encoding.GSM7)])
    parts = split(text, encoding=Encoding.UCS2)
    return Encoded(DC_UCS2, [p.encode("utf-16-be", errors="surrogatepass") for p in parts])
