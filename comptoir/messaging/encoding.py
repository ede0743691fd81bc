"""SMS encoding and length: GSM-7 or UCS-2, segment counts and splitting.

Follows 3GPP TS 23.038 (GSM 03.38), see /work/shared/COMPLIANCE.md, "Encoding and length":
the 128-position GSM-7 default alphabet, its extension table (two septets per
character), 160/153 septets or 70/67 UCS-2 code units per single/concatenated SMS,
and no escaped pair or UTF-16 surrogate pair split across two parts.

Pure Python and free of Django, so hot loops (rate limits, previews) can call it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

GSM7_SINGLE: Final = 160
GSM7_MULTI: Final = 153
UCS2_SINGLE: Final = 70
UCS2_MULTI: Final = 67


class Encoding(StrEnum):
    """How the text travels: 7-bit default alphabet or 16-bit UCS-2 (UTF-16)."""

    GSM7 = "gsm7"
    UCS2 = "ucs2"


# Module-level aliases: looking a member up on the Enum class costs ~0.1 us, felt in hot loops.
_GSM7: Final = Encoding.GSM7
_UCS2: Final = Encoding.UCS2

# The default alphabet in table order; 0x1B is left out, it is the escape to the extension table.
GSM7_BASIC: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through the escape, so each of these costs two septets.
GSM7_EXTENSION: Final = "\x0c^{}\\[~]|€"

# Look-alikes that smart encoding swaps for GSM-7 characters ("" means removed).
GSM7_LOOKALIKES: Final = MappingProxyType(
    {
        **dict.fromkeys(
            "\N{LEFT DOUBLE QUOTATION MARK}\N{RIGHT DOUBLE QUOTATION MARK}"
            "\N{DOUBLE LOW-9 QUOTATION MARK}"
            "\N{LEFT-POINTING DOUBLE ANGLE QUOTATION MARK}"
            "\N{RIGHT-POINTING DOUBLE ANGLE QUOTATION MARK}",
            '"',
        ),
        **dict.fromkeys(
            "\N{LEFT SINGLE QUOTATION MARK}\N{RIGHT SINGLE QUOTATION MARK}"
            "\N{SINGLE LOW-9 QUOTATION MARK}"
            "\N{SINGLE LEFT-POINTING ANGLE QUOTATION MARK}"
            "\N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK}",
            "'",
        ),
        **dict.fromkeys(
            "\N{EN DASH}\N{EM DASH}\N{FIGURE DASH}\N{HORIZONTAL BAR}",
            "-",
        ),
        "\N{HORIZONTAL ELLIPSIS}": "...",
        # No-break; en, em, thin, hair, figure... (U+2000-U+200A); narrow no-break; math space.
        **dict.fromkeys("\u00a0" + "".join(map(chr, range(0x2000, 0x200B))) + "\u202f\u205f", " "),
        # Zero-width space, non-joiner, joiner, word joiner, and BOM (zero-width no-break space).
        **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff", ""),
    }
)


# ASCII fast path: bytes.translate is several times faster than a regex on typical texts.
_ASCII_EXTENSION: Final = GSM7_EXTENSION.replace("€", "").encode("ascii")
_ASCII_NON_GSM7: Final = bytes([*range(0x00, 0x0A), 0x0B, *range(0x0E, 0x20), 0x60, 0x7F])
# Every non-GSM-7 ASCII byte becomes a backtick (itself not GSM-7), so one `in` finds them all.
_ASCII_MARK_NON_GSM7: Final = bytes.maketrans(_ASCII_NON_GSM7, b"`" * len(_ASCII_NON_GSM7))

_NON_GSM7: Final = re.compile(f"[^{re.escape(GSM7_BASIC + GSM7_EXTENSION)}]")
_NON_GSM7_NOR_LOOKALIKE: Final = re.compile(
    f"[^{re.escape(GSM7_BASIC + GSM7_EXTENSION + ''.join(GSM7_LOOKALIKES))}]"
)
_LOOKALIKE: Final = re.compile(f"[{re.escape(''.join(GSM7_LOOKALIKES))}]")
_GSM7_DOUBLE: Final = re.compile(f"[{re.escape(GSM7_EXTENSION)}]")
_UCS2_DOUBLE: Final = re.compile("[\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True)
class Replacement:
    """One look-alike character that smart encoding replaced, and how often."""

    original: str
    replacement: str
    count: int


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """What sending a text costs: encoding, length in units, and SMS parts."""

    encoding: Encoding
    units: int  # GSM-7 septets or UCS-2 code units of `text`
    segments: int  # 0 for an empty text, else the number of SMS parts
    per_segment: int  # the limit used: 160/153 or 70/67
    remaining: int  # units left in the last part before another part is needed
    text: str  # the text that would be sent (after smart encoding, if applied)
    replacements: tuple[Replacement, ...]  # what smart encoding changed


def _gsm7_extension_count(text: str) -> int | None:
    """Number of extension-table characters in `text`, or None if it is not GSM-7."""
    if text.isascii():
        kept = text.encode("ascii").translate(_ASCII_MARK_NON_GSM7, _ASCII_EXTENSION)
        if b"`" in kept:
            return None
        return len(text) - len(kept)
    if _NON_GSM7.search(text) is not None:
        return None
    # ASCII extension characters are single bytes in UTF-8, never part of a longer sequence.
    raw = text.encode()
    return len(raw) - len(raw.translate(None, _ASCII_EXTENSION)) + text.count("€")


def _limits(encoding: Encoding) -> tuple[int, int]:
    """Units per single SMS and per part of a concatenated one."""
    # An `is` test, not a dict keyed by the enum: Enum.__hash__ is Python code, slow here.
    if encoding is _GSM7:
        return GSM7_SINGLE, GSM7_MULTI
    return UCS2_SINGLE, UCS2_MULTI


def _measure(text: str) -> tuple[Encoding, int, int]:
    """Encoding, total units, and how many characters take two units."""
    doubles = _gsm7_extension_count(text)
    if doubles is not None:
        return _GSM7, len(text) + doubles, doubles
    units = ucs2_units(text)
    return _UCS2, units, units - len(text)


def _double_offsets(text: str, encoding: Encoding) -> list[int]:
    """Unit offsets, in order, where a two-unit character starts."""
    pattern = _GSM7_DOUBLE if encoding is _GSM7 else _UCS2_DOUBLE
    # Each earlier two-unit character shifts the offset by one more unit than its index.
    return [match.start() + i for i, match in enumerate(pattern.finditer(text))]


def _part_ends(units: int, double_offsets: list[int], per_part: int) -> list[int]:
    """Unit offsets where each part ends, filling parts greedily without splitting a pair."""
    splitting = {offset + 1 for offset in double_offsets}
    ends: list[int] = []
    start = 0
    while units - start > per_part:
        end = start + per_part
        if end in splitting:
            end -= 1
        ends.append(end)
        start = end
    ends.append(units)
    return ends


def is_gsm7(text: str) -> bool:
    """Whether every character of `text` is in the GSM-7 alphabet or its extension table."""
    return _gsm7_extension_count(text) is not None


def gsm7_units(text: str) -> int | None:
    """Septets `text` takes in GSM-7 (extension characters count 2), None if not GSM-7."""
    doubles = _gsm7_extension_count(text)
    return None if doubles is None else len(text) + doubles


def ucs2_units(text: str) -> int:
    """UTF-16 code units of `text`: characters above U+FFFF (most emoji) count 2."""
    # surrogatepass: a stray lone surrogate counts as the one unit it is rather than raising.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def smart_encode(text: str) -> tuple[str, tuple[Replacement, ...]]:
    """Replace look-alikes (curly quotes, dashes, odd spaces) when that makes `text` GSM-7.

    Returns `text` unchanged and no replacements when nothing would be replaced or
    when a character with no GSM-7 look-alike (an emoji, "ê") keeps it UCS-2 anyway.
    Replacements are listed in order of first appearance.
    """
    if _NON_GSM7_NOR_LOOKALIKE.search(text) is not None:
        return text, ()
    found = dict.fromkeys(_LOOKALIKE.findall(text))  # in order of first appearance
    if not found:
        return text, ()
    encoded = text
    replacements = []
    for original in found:
        replacement = GSM7_LOOKALIKES[original]
        replacements.append(Replacement(original, replacement, encoded.count(original)))
        encoded = encoded.replace(original, replacement)
    return encoded, tuple(replacements)


def analyze(text: str, *, smart: bool = True) -> SegmentInfo:
    """Encoding, length and SMS parts of `text`, smart-encoded first unless `smart` is False."""
    encoding, units, doubles = _measure(text)
    replacements: tuple[Replacement, ...] = ()
    if smart and encoding is _UCS2:
        encoded, replacements = smart_encode(text)
        if replacements:
            text = encoded
            encoding, units, doubles = _measure(text)
    single, multi = _limits(encoding)
    if units <= single:
        segments = 1 if units else 0
        return SegmentInfo(encoding, units, segments, single, single - units, text, replacements)
    if doubles:
        ends = _part_ends(units, _double_offsets(text, encoding), multi)
        segments, last = len(ends), units - ends[-2]
    else:
        segments = -(-units // multi)
        last = units - (segments - 1) * multi
    return SegmentInfo(encoding, units, segments, multi, multi - last, text, replacements)


def count_segments(text: str) -> int:
    """Number of SMS parts for `text` exactly as it is (no smart encoding); 0 if empty."""
    encoding, units, doubles = _measure(text)
    single, multi = _limits(encoding)
    if units <= single:
        return 1 if units else 0
    fewest = -(-units // multi)
    # Each cut moved back to keep a pair whole wastes one unit, so this bounds the count.
    if not doubles or fewest == -(-(units + doubles) // multi):
        return fewest
    return len(_part_ends(units, _double_offsets(text, encoding), multi))


def split(text: str, *, encoding: Encoding | None = None) -> list[str]:
    """Split `text` into the parts it would be sent as; `"".join(parts) == text`.

    `encoding` defaults to the text's own (GSM-7 when possible); forcing GSM-7 on a
    text that is not GSM-7 raises ValueError. An empty text gives no parts.
    """
    detected, units, doubles = _measure(text)
    if encoding is None:
        encoding = detected
    elif (encoding := Encoding(encoding)) is not detected:  # also accepts "gsm7"/"ucs2"
        if encoding is _GSM7:
            raise ValueError("text has characters outside the GSM-7 alphabet")
        units = ucs2_units(text)
        doubles = units - len(text)
    single, multi = _limits(encoding)
    if not text:
        return []
    if units <= single:
        return [text]
    offsets = _double_offsets(text, encoding) if doubles else []
    parts: list[str] = []
    start = 0
    for end in _part_ends(units, offsets, multi):
        # A part never ends inside a pair, so pairs before `end` are exactly those counted.
        index = end - bisect_left(offsets, end)
        parts.append(text[start:index])
        start = index
    return parts
