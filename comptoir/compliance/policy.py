"""Whether a message may go: checked when it is created and again just before it is sent.

Each rule is set-based (one query for a whole batch) and returns refusals with a code for
machines and a sentence for people. The consent, opt-out, sending-hours and frequency
rules of the compliance issue plug in here as further rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from comptoir.contacts.phones import TEXTABLE_TYPES


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """What a rule needs to know of one message about to be created or sent."""

    key: Any  # the caller's handle on the message (an index or a message id)
    scheme: str
    number_type: str
    purpose: str


Rule = Callable[[Sequence[Candidate]], dict[Any, Refusal]]


def rule_textable(candidates: Sequence[Candidate]) -> dict[Any, Refusal]:
    """An SMS cannot reach a fixed line: that customer is reached by voice instead."""
    return {
        c.key: Refusal(
            "not_mobile",
            _("This number is a %(type)s line, which cannot receive text messages.")
            % {"type": c.number_type.replace("_", " ")},
        )
        for c in candidates
        if c.scheme == "sms" and c.number_type not in TEXTABLE_TYPES and c.number_type != "unknown"
    }


RULES: tuple[Rule, ...] = (rule_textable,)


def refusals(candidates: Sequence[Candidate]) -> dict[Any, Refusal]:
    """The first refusal of each candidate that may not go; absent keys may go."""
    found: dict[Any, Refusal] = {}
    for rule in RULES:
        remaining = [c for c in candidates if c.key not in found]
        if not remaining:
            break
        found.update(rule(remaining))
    return found
