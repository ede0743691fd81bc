"""What the composer shows while the owner types: the counter, suggestions, cost, previews.

The counter measures the text as it will really go: personalised with the LONGEST value
of each variable in the audience (found in SQL), with links at their final size, the
sender's name in front and the opt-out mention at the end (as the compliance engine
adds them). So the segments it shows are the most any recipient's message will take.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from comptoir.campaigns.audience import counts_by_prefix, longest_values
from comptoir.campaigns.links import CODE_LENGTH, short_link_length
from comptoir.campaigns.personalise import (
    CompiledText,
    Personaliser,
    attribute_names,
    text_compile,
)
from comptoir.campaigns.prices import CURRENCY, country_of_prefix, segment_price
from comptoir.compliance.policy import policy_for_workspace
from comptoir.contacts.models import Contact
from comptoir.messaging.encoding import GSM7_LOOKALIKES, is_gsm7
from comptoir.messaging.templating import placeholders
from comptoir.workspaces.models import Workspace

PREVIEWS = 3
# Shown where each recipient's own code will be: the same length.
SAMPLE_CODE = "x" * CODE_LENGTH
# Letters with no GSM-7 form that an accent-stripping fold does not catch.
_SPELLED_OUT = {"œ": "oe", "Œ": "OE", "æ": "ae"}


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A character that forces UCS-2, and what would keep the text GSM-7."""

    char: str
    name: str
    count: int
    replacement: str | None  # None: no GSM-7 equivalent (an emoji): remove it
    automatic: bool  # smart encoding swaps it by itself when it is the only obstacle


@dataclass(frozen=True)
class Preview:
    name: str
    phone: str
    text: str
    segments: int


@dataclass
class Measure:
    """The composer's answer for a text and an audience."""

    text: str  # the longest text, as it will go
    chars: int
    units: int
    encoding: str
    segments: int
    per_segment: int
    recipients: int
    cost: Decimal
    currency: str = CURRENCY
    suggestions: list[Suggestion] = field(default_factory=list)
    previews: list[Preview] = field(default_factory=list)
    link_length: int = 0
    added_mention: bool = False
    over_cap: bool = False
    segment_cap: int = 0


def _replacement(char: str) -> str | None:
    if char in GSM7_LOOKALIKES:
        return GSM7_LOOKALIKES[char]
    if char in _SPELLED_OUT:
        return _SPELLED_OUT[char]
    base = unicodedata.normalize("NFD", char)[0]
    return base if base != char and is_gsm7(base) else None


def _char_name(char: str) -> str:
    return unicodedata.name(char, f"U+{ord(char):04X}").title()


def suggestions_for(text: str) -> list[Suggestion]:
    """Each character that keeps `text` from GSM-7, with its count and a replacement."""
    counts: dict[str, int] = {}
    for char in text:
        if not is_gsm7(char):
            counts[char] = counts.get(char, 0) + 1
    only_lookalikes = all(c in GSM7_LOOKALIKES for c in counts)
    return [
        Suggestion(
            char=char,
            name=_char_name(char),
            count=count,
            replacement=_replacement(char),
            automatic=only_lookalikes,
        )
        for char, count in counts.items()
    ]


def composer_compile(workspace: Workspace, body: str) -> CompiledText:
    """The text checked against this workspace's variables (raises with the reason)."""
    return text_compile(body, known_attributes=attribute_names(workspace))


def composer_measure(
    *, workspace: Workspace, body: str, audience: QuerySet[Contact], previews: int = PREVIEWS
) -> Measure:
    """Counter, suggestions, cost and previews for `body` sent to `audience`.

    Raises ValidationError (with the reason) for a text that cannot be sent.
    """
    compiled = composer_compile(workspace, body)
    policy = policy_for_workspace(workspace)
    personaliser = Personaliser(compiled, policy)
    longest = longest_values(audience, compiled.columns, compiled.attributes)
    for placeholder in placeholders(compiled.template):
        # A default longer than every value (or values all empty): the default is longest.
        if len(placeholder.default or "") > len(longest.get(placeholder.name, "")):
            longest[placeholder.name] = ""
    filled = personaliser.fill(personaliser.values_of({**longest, "attributes": longest}))
    codes = [SAMPLE_CODE] * len(compiled.urls)
    text = personaliser.with_links(filled.text, codes)
    by_prefix = counts_by_prefix(audience)
    recipients = sum(by_prefix.values())
    cost = sum(
        (segment_price(country_of_prefix(p)) * n * filled.segments for p, n in by_prefix.items()),
        Decimal(0),
    )
    if filled.replacements:
        suggestions = [
            Suggestion(r.original, _char_name(r.original), r.count, r.replacement, True)
            for r in filled.replacements
        ]
    else:
        suggestions = suggestions_for(text) if filled.encoding == "ucs2" else []
    mention = policy.opt_out_mention.strip()
    return Measure(
        text=text,
        chars=len(text),
        units=filled.units,
        encoding=filled.encoding,
        segments=filled.segments,
        per_segment=_per_segment(filled.encoding, filled.segments),
        recipients=recipients,
        cost=cost.quantize(Decimal("0.01")),
        suggestions=suggestions,
        previews=_previews(personaliser, audience, previews),
        link_length=short_link_length() if compiled.urls else 0,
        added_mention=bool(mention)
        and text.endswith(mention)
        and not body.rstrip().endswith(mention),
        over_cap=filled.segments > workspace.segment_cap,
        segment_cap=workspace.segment_cap,
    )


def _per_segment(encoding: str, segments: int) -> int:
    if encoding == "gsm7":
        return 160 if segments <= 1 else 153
    return 70 if segments <= 1 else 67


def _previews(personaliser: Personaliser, audience: QuerySet[Contact], count: int) -> list[Preview]:
    fields: list[str] = ["phone", "first_name", "last_name", *personaliser.compiled.columns]
    if personaliser.compiled.attributes:
        fields.append("attributes")
    rows: list[dict[str, Any]] = list(
        audience.order_by("id").values(*dict.fromkeys(fields))[:count]
    )
    out = []
    for row in rows:
        filled = personaliser.fill(personaliser.values_of(row))
        text = personaliser.with_links(filled.text, [SAMPLE_CODE] * len(personaliser.compiled.urls))
        name = f"{row['first_name']} {row['last_name']}".strip() or row["phone"]
        out.append(Preview(name, row["phone"], text, filled.segments))
    return out
