"""What a compliance decision is about and what it says: shared by every rule."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    reason: str
    until: dt.datetime | None = None  # set: a deferral to that time, not a refusal


class Candidate(NamedTuple):
    """What a rule needs to know of one message about to be created or sent.

    A named tuple: one is built per message at every enqueue and every send, and a frozen
    dataclass's constructor (a `object.__setattr__` per field) cost 5 µs of each.
    """

    key: Any  # the caller's handle on the message (an index or a message id)
    scheme: str
    number_type: str
    purpose: str
    contact_id: Any = None
    kind: str = ""  # "opt_out_confirmation" and "help_reply" answer the customer's own text
    phone: str = ""
    workspace_id: Any = None
    send_at: dt.datetime | None = None
    contact_tz: str = ""


# Answers the rules require even to someone who opted out (CTIA, CNIL: confirm once).
CONSENT_EXEMPT_KINDS = frozenset({"opt_out_confirmation", "help_reply"})
