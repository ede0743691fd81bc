"""Reading a satisfaction score out of a customer's reply: a pure function, no database.

Accepted, 1 to 5: a number alone or first ("4", "4 merci !", "5/5", "5 / 5", "4 sur 5",
"4 out of 5", "note : 4", "4️⃣"), a number word in French or English ("cinq",
"quatre merci", "five"; "un", "une" and "one" only alone, since "un peu…" is a
sentence), or 1 to 5 stars ("⭐⭐⭐⭐", "★ ★ ★", "⭐⭐⭐⭐⭐ merci").

Refused (None: the message goes to the inbox as usual): anything outside 1-5 ("0",
"6", "12"), another scale ("10/10", "8 sur 10": not normalised, a 10/10 read as 5
would be a guess), two numbers ("1 ou 2", "4-5"), decimals ("3,5"), a question ("2
paires commandées, elles arrivent quand ?": for staff), six stars or more, stars mixed
with other emoji, and emoji soup ("😍🔥👌").
"""

from __future__ import annotations

import re
import unicodedata

MIN_SCORE, MAX_SCORE = 1, 5

STARS = frozenset("⭐★")
# Invisible parts of emoji: variation selectors, the keycap mark, zero-width joiners.
_INVISIBLE = dict.fromkeys(map(ord, "\ufe0e\ufe0f\u20e3\u200d"), None)

WORDS = {
    "un": 1, "une": 1, "one": 1,
    "deux": 2, "two": 2,
    "trois": 3, "three": 3,
    "quatre": 4, "four": 4,
    "cinq": 5, "five": 5,
}  # fmt: skip
# Only alone: as the first word of a sentence they are articles ("un peu cher").
ALONE_ONLY = frozenset({"un", "une", "one"})
# Another number after the score makes the reply unclear ("4 ou 5", "trois ou quatre").
OTHER_NUMBERS = frozenset(WORDS) - ALONE_ONLY | {
    "zero", "six", "sept", "huit", "neuf", "dix", "seven", "eight", "nine", "ten",
}  # fmt: skip
# Said before the score: "note : 4", "ma note 5/5", "je mets 4", "rating: 3".
PREFIXES = ("ma note", "note", "je donne", "je mets", "my rating", "rating", "score", "i give")

_SCALE = re.compile(r"^\s*(?:/|sur\b|out of\b)\s*(\d+)")
_UNIT = re.compile(r"^\s*(?:etoiles?\b|stars?\b|([⭐★]+))")


def _plain(text: str) -> str:
    """Lower case, accents and emoji joiners off, full-width digits made ASCII."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip()


def _is_symbol(ch: str) -> bool:
    return unicodedata.category(ch) in ("So", "Sk", "Cs", "Co") and ch not in STARS


def _rest_is_clear(rest: str, *, allow_symbols: bool = True) -> bool:
    """What follows the score: words, punctuation (emoji too, after a number), but no
    second number, no star, no question."""
    if "?" in rest or any(ch in STARS for ch in rest) or re.search(r"\d", rest):
        return False
    if not allow_symbols and any(_is_symbol(ch) for ch in rest):
        return False
    return not any(w in OTHER_NUMBERS for w in re.findall(r"[a-z]+", rest))


def _stars(text: str) -> int | None:
    compact = text.lstrip()
    count = 0
    index = 0
    while index < len(compact) and (compact[index] in STARS or compact[index].isspace()):
        count += compact[index] in STARS
        index += 1
    rest = compact[index:]
    if not MIN_SCORE <= count <= MAX_SCORE or not _rest_is_clear(rest, allow_symbols=False):
        return None
    return count


def _after_number(value: int, rest: str, *, alone: bool = False) -> int | None:
    """The score when what follows the number keeps it clear: "/5", "sur 5", "étoiles",
    "⭐" (one, or as many as the number), then words; `alone`: nothing else at all."""
    scale = _SCALE.match(rest)
    if scale:
        if int(scale.group(1)) != MAX_SCORE:
            return None  # 8/10, 10/10: another scale, not guessed
        rest = rest[scale.end() :]
    unit = _UNIT.match(rest)
    if unit:
        stars = len(unit.group(1) or "")
        if stars not in (0, 1, value):
            return None  # "4 ⭐⭐": which one?
        rest = rest[unit.end() :]
    if alone and re.search(r"\w", rest):
        return None
    if not MIN_SCORE <= value <= MAX_SCORE or not _rest_is_clear(rest):
        return None
    return value


def score_parse(text: str) -> int | None:
    """The score 1-5 a reply gives, or None when it is not clearly one (see the module)."""
    plain = _plain(text)
    if not plain:
        return None
    if plain[0] in STARS:
        return _stars(plain)
    for prefix in PREFIXES:
        if re.match(rf"{prefix}\b", plain):
            plain = plain[len(prefix) :].lstrip(" :=-").lstrip()
            break
    number = re.match(r"(\d+)(?![.,]\d)", plain)
    if number:
        return _after_number(int(number.group(1)), plain[number.end() :])
    word = re.match(r"([a-z]+)\b", plain)
    if word and word.group(1) in WORDS:
        alone = word.group(1) in ALONE_ONLY
        return _after_number(WORDS[word.group(1)], plain[word.end() :], alone=alone)
    return None
