"""SMS encoding and length (3GPP TS 23.038), see COMPLIANCE.md "Encoding and length"."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from comptoir.messaging.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    GSM7_MULTI,
    GSM7_SINGLE,
    UCS2_MULTI,
    UCS2_SINGLE,
    Encoding,
    Replacement,
    analyze,
    count_segments,
    gsm7_units,
    is_gsm7,
    smart_encode,
    split,
    ucs2_units,
)

EMOJI = "\U0001f600"  # 😀, above U+FFFF: a surrogate pair in UTF-16
GSM7, UCS2 = Encoding.GSM7, Encoding.UCS2
LDQ, RDQ = "\N{LEFT DOUBLE QUOTATION MARK}", "\N{RIGHT DOUBLE QUOTATION MARK}"
RSQ = "\N{RIGHT SINGLE QUOTATION MARK}"
EN_DASH, ELLIPSIS = "\N{EN DASH}", "\N{HORIZONTAL ELLIPSIS}"


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    encoding: Encoding
    units: int
    segments: int


CASES = [
    Case("empty", "", GSM7, 0, 0),
    Case("160 plain", "a" * 160, GSM7, 160, 1),
    Case("161 plain", "a" * 161, GSM7, 161, 2),
    Case("306 plain", "a" * 306, GSM7, 306, 2),
    Case("307 plain", "a" * 307, GSM7, 307, 3),
    Case("159 + euro", "a" * 159 + "€", GSM7, 161, 2),
    Case("158 + euro", "a" * 158 + "€", GSM7, 160, 1),
    Case("brackets are extension", "[x] ~ {y} | \\ ^", GSM7, 23, 1),
    Case("form feed is extension", "a\x0cb", GSM7, 4, 1),
    Case("newlines are basic", "a\nb\r\n", GSM7, 5, 1),
    Case("e acute stays GSM-7", "Café éèùìòàÇ", GSM7, 12, 1),
    Case("greek capitals", "ΔΦΓΛΩΠΨΣΘΞ", GSM7, 10, 1),
    Case("e circumflex is UCS-2", "prête", UCS2, 5, 1),
    Case("backtick is UCS-2", "`", UCS2, 1, 1),
    Case("tab is UCS-2", "a\tb", UCS2, 3, 1),
    Case("70 UCS-2", "ê" * 70, UCS2, 70, 1),
    Case("71 UCS-2", "ê" * 71, UCS2, 71, 2),
    Case("134 UCS-2", "ê" * 134, UCS2, 134, 2),
    Case("135 UCS-2", "ê" * 135, UCS2, 135, 3),
    Case("emoji counts 2", EMOJI, UCS2, 2, 1),
    Case("35 emoji", EMOJI * 35, UCS2, 70, 1),
    Case("36 emoji", EMOJI * 36, UCS2, 72, 2),
    Case("chinese", "你好", UCS2, 2, 1),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_length_and_segments(case: Case) -> None:
    info = analyze(case.text, smart=False)
    assert (info.encoding, info.units, info.segments) == (case.encoding, case.units, case.segments)
    assert count_segments(case.text) == case.segments
    assert len(split(case.text)) == case.segments
    assert info.text == case.text
    assert info.replacements == ()


def test_alphabet_sizes() -> None:
    assert len(GSM7_BASIC) == len(set(GSM7_BASIC)) == 127  # 128 positions minus the escape
    assert len(GSM7_EXTENSION) == 10
    assert not set(GSM7_BASIC) & set(GSM7_EXTENSION)


def test_every_printable_ascii_but_backtick_is_gsm7() -> None:
    for code in range(0x20, 0x7F):
        char = chr(code)
        assert is_gsm7(char) == (char != "`"), char
        assert gsm7_units(char) == (None if char == "`" else 2 if char in "^{}\\[~]|" else 1)


def test_unit_counts() -> None:
    assert gsm7_units("€[]") == 6
    assert gsm7_units("ê") is None
    assert ucs2_units("a" + EMOJI) == 3
    assert ucs2_units("\ud83d") == 1  # a stray lone surrogate does not raise


def test_per_segment_and_remaining() -> None:
    assert analyze("").per_segment == GSM7_SINGLE
    assert analyze("").remaining == GSM7_SINGLE
    single = analyze("a" * 150)
    assert (single.per_segment, single.remaining) == (GSM7_SINGLE, 10)
    multi = analyze("a" * 200)
    assert (multi.per_segment, multi.remaining) == (GSM7_MULTI, 153 * 2 - 200)
    ucs2 = analyze("ê" * 100)
    assert (ucs2.per_segment, ucs2.remaining) == (UCS2_MULTI, 67 * 2 - 100)


def test_smart_encoding_replaces_lookalikes() -> None:
    info = analyze(f"{LDQ}Hello{RDQ} {EN_DASH} it{RSQ}s{ELLIPSIS} ok")
    assert info.encoding is GSM7
    assert info.text == '"Hello" - it\'s... ok'
    assert info.replacements == (
        Replacement(LDQ, '"', 1),
        Replacement(RDQ, '"', 1),
        Replacement(EN_DASH, "-", 1),
        Replacement(RSQ, "'", 1),
        Replacement(ELLIPSIS, "...", 1),
    )
    assert info.units == len(info.text)


def test_smart_encoding_counts_and_spaces() -> None:
    text, replacements = smart_encode("a\u00a0b\u00a0c\u202fd\u2009e")
    assert text == "a b c d e"
    assert replacements == (
        Replacement("\u00a0", " ", 2),
        Replacement("\u202f", " ", 1),
        Replacement("\u2009", " ", 1),
    )


def test_smart_encoding_removes_zero_width() -> None:
    text, replacements = smart_encode("\ufeffHel\u200blo\u200d")
    assert text == "Hello"
    assert {r.original for r in replacements} == {"\ufeff", "\u200b", "\u200d"}
    assert all(r.replacement == "" for r in replacements)


@pytest.mark.parametrize(
    "text", [f"{LDQ}Hello{RDQ} prête", f"{LDQ}你好{RDQ}", f"{LDQ}Hi{RDQ} {EMOJI}"]
)
def test_smart_encoding_not_applied_with_real_unicode(text: str) -> None:
    assert smart_encode(text) == (text, ())
    info = analyze(text)
    assert (info.encoding, info.text, info.replacements) == (UCS2, text, ())


def test_smart_encoding_off_and_count_segments_take_text_as_is() -> None:
    text = f"{LDQ}Hello{RDQ}"
    assert analyze(text, smart=False).encoding is UCS2
    assert smart_encode("plain") == ("plain", ())
    long_text = LDQ + "a" * 150 + RDQ  # 152 chars: 3 UCS-2 parts as is, 1 GSM-7 part once fixed
    assert count_segments(long_text) == 3
    assert analyze(long_text).segments == 1


def test_escape_pair_not_split() -> None:
    text = "a" * 152 + "€" + "b" * 10  # the 153rd unit would be the first half of the €
    parts = split(text)
    assert [len(part) for part in parts] == [152, 11]
    assert [gsm7_units(part) for part in parts] == [152, 12]
    assert count_segments(text) == analyze(text).segments == 2


def test_escape_pair_pushed_over_adds_a_part() -> None:
    # 306 units fit 2 x 153 only if the € could straddle; it cannot, so 3 parts.
    text = "a" * 152 + "€" + "b" * 152
    assert gsm7_units(text) == 306
    assert [gsm7_units(part) for part in split(text)] == [152, 153, 1]
    assert count_segments(text) == 3
    info = analyze(text)
    assert (info.segments, info.remaining) == (3, 152)


def test_surrogate_pair_not_split() -> None:
    text = "ê" * 66 + EMOJI + "ê" * 10  # the 67th unit would be the high surrogate
    parts = split(text)
    assert [len(part) for part in parts] == [66, 11]
    assert [ucs2_units(part) for part in parts] == [66, 12]
    assert count_segments(text) == 2


def test_split_forced_encoding() -> None:
    assert split("a" * 100, encoding=UCS2) == ["a" * 67, "a" * 33]
    assert split("a" * 100, encoding=GSM7) == ["a" * 100]
    with pytest.raises(ValueError):
        split("prête", encoding=GSM7)
    assert split("") == []
    assert split("hi") == ["hi"]


# Hypothesis: GSM-only texts are drawn often, with extension characters and emoji mixed in.
GSM_CHARS = st.sampled_from(GSM7_BASIC + GSM7_EXTENSION)
ODD_CHARS = st.sampled_from(
    ["ê", "你", EMOJI, "\U0001f44d\U0001f3fd", LDQ, EN_DASH, "\u00a0", "\u200d", "`"]
)
TEXTS = st.one_of(
    st.text(GSM_CHARS, max_size=500),
    st.text(st.one_of(GSM_CHARS, st.sampled_from(GSM7_EXTENSION)), max_size=500),
    st.lists(st.one_of(GSM_CHARS, ODD_CHARS), max_size=300).map("".join),
    st.text(st.sampled_from(["ê", EMOJI]), max_size=200),
    st.text(max_size=300),
)


def _units(text: str, encoding: Encoding) -> int:
    units = gsm7_units(text) if encoding is GSM7 else ucs2_units(text)
    assert units is not None
    return units


@given(TEXTS)
def test_split_properties(text: str) -> None:
    parts = split(text)
    info = analyze(text, smart=False)
    assert "".join(parts) == text
    assert len(parts) == info.segments == count_segments(text)
    assert info.units == _units(text, info.encoding)
    limit = GSM7_SINGLE if info.encoding is GSM7 else UCS2_SINGLE
    if len(parts) > 1:
        limit = GSM7_MULTI if info.encoding is GSM7 else UCS2_MULTI
    assert info.per_segment == limit
    for index, part in enumerate(parts):
        assert part
        assert _units(part, info.encoding) <= limit
        last_unit = part.encode("utf-16-le")[-2:]
        assert not 0xD800 <= int.from_bytes(last_unit, "little") <= 0xDBFF
        if index + 1 < len(parts):
            # Minimal: the next character would not have fitted.
            taken = part + parts[index + 1][0]
            assert _units(taken, info.encoding) > limit
    if parts:
        assert info.remaining == limit - _units(parts[-1], info.encoding)


@given(TEXTS)
def test_smart_encoding_properties(text: str) -> None:
    encoded, replacements = smart_encode(text)
    if replacements:
        assert is_gsm7(encoded)
        assert not is_gsm7(text)
        for replacement in replacements:
            assert replacement.count == text.count(replacement.original) > 0
    else:
        assert encoded == text
    info = analyze(text)
    assert info.text == encoded
    assert info.encoding is (GSM7 if is_gsm7(encoded) else UCS2)


def _reference_split(text: str) -> list[str]:
    """Character by character greedy split, the slow obvious way."""
    encoding = GSM7 if is_gsm7(text) else UCS2
    single, multi = (GSM7_SINGLE, GSM7_MULTI) if encoding is GSM7 else (UCS2_SINGLE, UCS2_MULTI)
    if _units(text, encoding) <= single:
        return [text] if text else []
    parts, current, used = [], "", 0
    for char in text:
        size = _units(char, encoding)
        if used + size > multi:
            parts.append(current)
            current, used = "", 0
        current += char
        used += size
    return [*parts, current]


@given(TEXTS)
def test_split_matches_reference(text: str) -> None:
    assert split(text) == _reference_split(text)
    assert count_segments(text) == len(_reference_split(text))
