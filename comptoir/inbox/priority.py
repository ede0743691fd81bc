"""A conversation's priority: a score staff can read as a sum of reasons.

    score = VIP 30 + urgent 40 + 5 per unanswered message (at most 5 counted)
            + 1 per 2 minutes the oldest unanswered message has waited

"Urgent" is an urgent word in the customer's messages or a flag the system set with its
reason ("Survey score 2/5", an escalated alert); with both, each reason is shown but the
40 points count once.

Only the waiting part grows with time, so the list is sorted on one stored instant,
`rank_at` = waiting_since - (the other points x 2 minutes): the earlier it is, the
higher the score now. The database sorts open conversations with a plain index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from comptoir.compliance.keywords import normalize

POINTS_VIP = 30
POINTS_URGENT = 40
POINTS_PER_UNANSWERED = 5
UNANSWERED_COUNTED = 5
MINUTES_PER_POINT = 2

# Built-in urgent words per language (accents and case do not matter); workspaces add theirs.
URGENT_WORDS: Mapping[str, tuple[str, ...]] = {
    "fr": (
        "urgent",
        "urgente",
        "urgence",
        "casse",
        "cassee",
        "cassees",
        "casses",
        "brise",
        "perdu",
        "perdue",
        "perdues",
        "douleur",
        "au plus vite",
        "tres vite",
    ),
    "en": ("urgent", "emergency", "broken", "lost", "asap", "pain", "right away"),
    "vi": ("khan cap", "gap", "bi vo", "bi hong", "mat kinh"),
}


@dataclass(frozen=True, slots=True)
class Part:
    label: str
    points: int


def urgent_words(languages: Iterable[str], extra: Mapping[str, Iterable[str]]) -> list[str]:
    """The normalised urgent words for these languages, longest first."""
    words: set[str] = set()
    for language in languages:
        words.update(URGENT_WORDS.get(language, ()))
        words.update(normalize(w) for w in extra.get(language, ()) if w.strip())
    return sorted(words, key=lambda w: (-len(w), w))


def urgent_word_in(text: str, words: Iterable[str]) -> str:
    """The first urgent word or phrase found as whole words in the text, else ""."""
    padded = f" {normalize(text)} "
    return next((w for w in words if f" {w} " in padded), "")


def base_points(*, vip: bool, urgent: bool, unanswered: int) -> int:
    return (
        (POINTS_VIP if vip else 0)
        + (POINTS_URGENT if urgent else 0)
        + POINTS_PER_UNANSWERED * min(unanswered, UNANSWERED_COUNTED)
    )


def rank_at(*, waiting_since: dt.datetime | None, base: int) -> dt.datetime | None:
    if waiting_since is None:
        return None
    return waiting_since - dt.timedelta(minutes=base * MINUTES_PER_POINT)


def waiting_points(waiting_since: dt.datetime | None, now: dt.datetime) -> int:
    if waiting_since is None:
        return 0
    return max(0, int((now - waiting_since).total_seconds() // (60 * MINUTES_PER_POINT)))


def score_parts(
    *,
    vip: bool,
    urgent_word: str,
    flag: str,
    unanswered: int,
    waiting_since: dt.datetime | None,
    now: dt.datetime,
) -> list[Part]:
    """The score's reasons, in words, for the conversation list's tooltip."""
    parts = []
    if vip:
        parts.append(Part(_("VIP customer"), POINTS_VIP))
    # Urgent counts once (a flag and an urgent word are one reason to answer first, as when
    # one column held either): the flag carries the points, the urgent word adds its label.
    urgent = POINTS_URGENT
    if flag:
        parts.append(Part(flag, urgent))
        urgent = 0
    if urgent_word:
        parts.append(Part(_("urgent word “%(word)s”") % {"word": urgent_word}, urgent))
    if unanswered:
        counted = min(unanswered, UNANSWERED_COUNTED)
        parts.append(
            Part(
                _("%(n)d unanswered message(s)") % {"n": unanswered},
                POINTS_PER_UNANSWERED * counted,
            )
        )
    waited = waiting_points(waiting_since, now)
    if waited:
        minutes = waited * MINUTES_PER_POINT
        parts.append(Part(_("waiting %(time)s") % {"time": _duration(minutes)}, waited))
    return parts


def conversation_parts(conversation: Any, now: dt.datetime) -> list[Part]:
    """The score's reasons for a stored conversation (anything with its score fields)."""
    return score_parts(
        vip=conversation.vip,
        urgent_word=conversation.urgent_word,
        flag=conversation.flag,
        unanswered=conversation.unanswered,
        waiting_since=conversation.waiting_since,
        now=now,
    )


def _duration(minutes: int) -> str:
    if minutes < 60:
        return _("%(m)d min") % {"m": minutes}
    if minutes < 48 * 60:
        return _("%(h)d h %(m)02d") % {"h": minutes // 60, "m": minutes % 60}
    return _("%(d)d days") % {"d": minutes // (24 * 60)}
