"""Whether a message may go: checked when it is created and again just before it is sent.

Each rule is set-based (one query for a whole batch) and returns refusals with a code for
machines and a sentence for people. Sending hours and frequency caps are to come as
further rules of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from comptoir.compliance.consent import consent_state
from comptoir.compliance.models import ConsentAction
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
    contact_id: Any = None
    kind: str = ""  # "opt_out_confirmation" and "help_reply" answer the customer's own text


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


# Answers the rules require even to someone who opted out (CTIA, CNIL: confirm once).
CONSENT_EXEMPT_KINDS = frozenset({"opt_out_confirmation", "help_reply"})


def rule_consent(candidates: Sequence[Candidate]) -> dict[Any, Refusal]:
    """Opted-out customers get nothing more; marketing needs a recorded opt-in."""
    concerned = [c for c in candidates if c.contact_id and c.kind not in CONSENT_EXEMPT_KINDS]
    if not concerned:
        return {}
    state = consent_state({c.contact_id for c in concerned})
    found = {}
    for c in concerned:
        purpose = "marketing" if c.purpose == "marketing" else "service"
        latest = state.get((c.contact_id, purpose))
        if latest == ConsentAction.REVOKED:
            found[c.key] = Refusal(
                "opted_out",
                _("This customer opted out (STOP) of %(purpose)s messages.")
                % {"purpose": _("marketing") if purpose == "marketing" else _("service")},
            )
        elif purpose == "marketing" and latest != ConsentAction.GRANTED:
            found[c.key] = Refusal(
                "no_consent",
                _("No marketing consent is recorded for this customer."),
            )
    return found


RULES: tuple[Rule, ...] = (rule_textable, rule_consent)


def refusals(candidates: Sequence[Candidate]) -> dict[Any, Refusal]:
    """The first refusal of each candidate that may not go; absent keys may go."""
    found: dict[Any, Refusal] = {}
    for rule in RULES:
        remaining = [c for c in candidates if c.key not in found]
        if not remaining:
            break
        found.update(rule(remaining))
    return found
