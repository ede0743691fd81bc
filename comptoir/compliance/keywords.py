"""Opt-out, opt-in and help keywords per language, as data, matched as COMPLIANCE.md says.

A keyword matches the whole trimmed message or its first words, case- and
accent-insensitively and ignoring punctuation: "Stop.", "stop svp" and "ARRÊT" opt out,
"don't stop the promo" does not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from enum import StrEnum


class KeywordKind(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


# Sources: CTIA handbook and Twilio's defaults (EN), FCC order 24-18 (revoke, opt out),
# CNIL and operators' practice (FR). Workspaces add their own on top.
BUILT_IN: Mapping[str, Mapping[KeywordKind, tuple[str, ...]]] = {
    "en": {
        KeywordKind.OPT_OUT: (
            "stop",
            "stopall",
            "end",
            "cancel",
            "unsubscribe",
            "quit",
            "revoke",
            "opt out",
            "optout",
        ),
        KeywordKind.OPT_IN: ("start", "unstop", "yes"),
        KeywordKind.HELP: ("help", "info"),
    },
    "fr": {
        KeywordKind.OPT_OUT: (
            "stop",
            "stop sms",
            "arret",
            "arreter",
            "desabonner",
            "desinscrire",
            "desabonnement",
        ),
        KeywordKind.OPT_IN: ("start", "oui", "reprendre"),
        KeywordKind.HELP: ("aide", "info"),
    },
}
# At most this many words may follow a keyword ("stop svp merci"); more is a sentence.
MAX_TRAILING_WORDS = 2
_NOT_WORD = re.compile(r"[^\w\s]+")


def normalize(text: str) -> str:
    """Lower-case, accents and punctuation removed, spaces folded: 'ARRÊT !' -> 'arret'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.sub(" ", bare).split())


def keyword_table(
    languages: Iterable[str], extra: Iterable[tuple[str, str]] = ()
) -> dict[str, KeywordKind]:
    """Normalised keyword -> kind, for the given languages plus a workspace's own words.

    Opt-out wins when a word is listed under two kinds, so "stop" can never be an opt-in.
    """
    table: dict[str, KeywordKind] = {}
    entries = [
        (w, k) for lang in languages for k, words in BUILT_IN.get(lang, {}).items() for w in words
    ]
    entries += [(w, KeywordKind(k)) for w, k in extra]
    for word, kind in sorted(entries, key=lambda e: e[1] != KeywordKind.OPT_OUT):
        table.setdefault(normalize(word), kind)
    return table


def match(text: str, table: Mapping[str, KeywordKind]) -> KeywordKind | None:
    """The kind of keyword the message is, or None when it is ordinary text."""
    words = normalize(text).split()
    if not words:
        return None
    # Longest keyword first: "stop sms" before "stop".
    for size in (3, 2, 1):
        head = " ".join(words[:size])
        if len(words) - size <= MAX_TRAILING_WORDS and head in table:
            return table[head]
    return None
