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
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from comptoir.compliance.audit import AuditAction, audit_record
from comptoir.compliance.models import WorkspaceKeyword
from comptoir.core.errors import Conflict, NotFound, ValidationError


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


@lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """Lower-case, accents and punctuation removed, spaces folded: 'ARRÊT !' -> 'arret'.

    Cached: each inbound text is read by several steps (keywords, answers, urgent words).
    """
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


# ---------------------------------------------------------------------------------------
# A workspace's own keywords (the settings page and the API call these)
# ---------------------------------------------------------------------------------------

# match() reads at most the first three words: a longer keyword could never match.
MAX_KEYWORD_WORDS = 3
MAX_KEYWORD_LENGTH = 40  # WorkspaceKeyword.word


def languages_understood(language: str) -> list[str]:
    """The built-in keyword languages a shop understands: its own, and English everywhere."""
    return list(dict.fromkeys([language or "en", "en"]))


def builtin_kinds(word: str) -> dict[KeywordKind, list[str]]:
    """The kinds a (normalised) word has among the built-ins, each with its languages."""
    found: dict[KeywordKind, list[str]] = {}
    for language, kinds in BUILT_IN.items():
        for kind, words in kinds.items():
            if word in (normalize(w) for w in words):
                found.setdefault(kind, []).append(language)
    return found


def workspace_keyword_add(
    *, workspace: Any, word: str, kind: str, actor: Any = None, actor_label: str = ""
) -> WorkspaceKeyword:
    """Add a shop's own keyword, stored as it is matched (normalised), and audit it.

    Refused, naming the field: an empty or too long word, more than three words, a
    word that is a built-in keyword of another kind (STOP can never opt in), one the
    shop already understands, an unknown kind.
    """
    try:
        wanted = KeywordKind(kind)
    except ValueError:
        raise ValidationError(
            _("The kind is opt_out, opt_in or help, not %(kind)r.") % {"kind": kind}, field="kind"
        ) from None
    normal = normalize(word)
    if not normal:
        raise ValidationError(_("Type a keyword: letters or digits."), field="word")
    if len(normal) > MAX_KEYWORD_LENGTH:
        raise ValidationError(
            _("A keyword is at most %(n)d characters.") % {"n": MAX_KEYWORD_LENGTH}, field="word"
        )
    if len(normal.split()) > MAX_KEYWORD_WORDS:
        raise ValidationError(
            _("A keyword is at most %(n)d words: texts are matched on their first words.")
            % {"n": MAX_KEYWORD_WORDS},
            field="word",
        )
    builtin = builtin_kinds(normal)
    for other, languages in builtin.items():
        if other is not wanted:
            raise ValidationError(
                _("“%(word)s” is already a built-in %(kind)s keyword (%(languages)s).")
                % {"word": normal, "kind": KIND_LABELS[other], "languages": ", ".join(languages)},
                field="word",
            )
    if set(builtin.get(wanted, ())) & set(languages_understood(workspace.language)):
        raise Conflict(
            _("“%(word)s” is already a built-in keyword of this shop.") % {"word": normal},
            field="word",
        )
    mine = WorkspaceKeyword.objects.filter(workspace=workspace, word=normal).first()
    if mine is not None:
        raise Conflict(
            _("“%(word)s” is already one of this shop's keywords.") % {"word": normal},
            field="word",
        )
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: the same word added at the same time
                keyword = WorkspaceKeyword.objects.create(
                    workspace=workspace, word=normal, kind=wanted.value
                )
        except IntegrityError:
            raise Conflict(
                _("“%(word)s” is already one of this shop's keywords.") % {"word": normal},
                field="word",
            ) from None
        audit_record(
            workspace=workspace,
            action=AuditAction.KEYWORD_ADDED,
            actor=actor,
            actor_label=actor_label,
            target=f"keyword {normal}",
            details={"word": normal, "kind": wanted.value},
        )
    return keyword


def workspace_keyword_remove(
    *, workspace: Any, keyword_id: Any, actor: Any = None, actor_label: str = ""
) -> WorkspaceKeyword:
    """Remove one of a shop's own keywords (another workspace's is not found), audited."""
    with transaction.atomic():
        keyword = (
            WorkspaceKeyword.objects.select_for_update()
            .filter(workspace=workspace, id=keyword_id)
            .first()
        )
        if keyword is None:
            raise NotFound(_("No such keyword."), field="keyword_id")
        audit_record(
            workspace=workspace,
            action=AuditAction.KEYWORD_REMOVED,
            actor=actor,
            actor_label=actor_label,
            target=f"keyword {keyword.word}",
            details={"word": keyword.word, "kind": keyword.kind},
        )
        keyword.delete()
    return keyword


KIND_LABELS: Mapping[KeywordKind, Any] = {
    KeywordKind.OPT_OUT: _lazy("opt-out"),
    KeywordKind.OPT_IN: _lazy("opt-in"),
    KeywordKind.HELP: _lazy("help"),
}
