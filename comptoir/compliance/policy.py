"""Whether a message may go now, later, or never — checked when it is created and again
just before it is sent (a STOP may have come in between).

Each rule is set-based (a few queries for a whole batch, never one per recipient) and
answers with a code for machines and a sentence for people. A refusal with `until` is a
deferral: the message waits for that time instead of being dropped.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import phonenumbers
from django.db import connection
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from phonenumbers import timezone as phone_timezone

from comptoir.compliance.consent import consent_state
from comptoir.compliance.countries import CountryPolicy, next_opening, policy_for
from comptoir.compliance.decisions import CONSENT_EXEMPT_KINDS, Candidate, Refusal
from comptoir.compliance.gdpr import rule_suppressed
from comptoir.compliance.models import ConsentAction
from comptoir.contacts.phones import TEXTABLE_TYPES
from comptoir.core.bulk import convert, in_list

# Ids per look-up: SQLite binds each id as a parameter (its limit is 32,766); PostgreSQL
# takes the whole list as one array parameter.
CHUNK = {"sqlite": 10_000}
DEFAULT_CHUNK = 200_000


@dataclass(frozen=True)
class Context:
    """The workspace the batch belongs to, the stage, and the clock."""

    workspace: Any
    stage: Literal["create", "send"] = "create"
    now: dt.datetime = field(default_factory=timezone.now)

    def policy(self, country: str | None = None) -> CountryPolicy:
        return policy_for(
            country or self.workspace.region,
            default_country=self.workspace.region,
            overrides=self.workspace.policy or {},
        )


def policy_for_workspace(workspace: Any) -> CountryPolicy:
    """The workspace's own country policy with its overrides (for what is not per recipient)."""
    return Context(workspace=workspace).policy()


Rule = Callable[[Sequence[Candidate], Context], dict[Any, Refusal]]


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    values = list(values)
    size = CHUNK.get(connection.vendor, DEFAULT_CHUNK)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def rule_textable(candidates: Sequence[Candidate], context: Context) -> dict[Any, Refusal]:
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


def rule_consent(candidates: Sequence[Candidate], context: Context) -> dict[Any, Refusal]:
    """Opted-out customers get nothing more; marketing needs a recorded opt-in."""
    concerned = [c for c in candidates if c.contact_id and c.kind not in CONSENT_EXEMPT_KINDS]
    state: dict[tuple[Any, str], str] = {}
    for chunk in _chunks({c.contact_id for c in concerned}):
        state.update(consent_state(chunk))
    out_of = {
        p: Refusal(
            "opted_out",
            _("This customer opted out (STOP) of %(purpose)s messages.")
            % {"purpose": _("marketing") if p == "marketing" else _("service")},
        )
        for p in ("marketing", "service")
    }
    missing = Refusal("no_consent", _("No marketing consent is recorded for this customer."))
    found = {}
    for c in concerned:
        purpose = "marketing" if c.purpose == "marketing" else "service"
        latest = state.get((c.contact_id, purpose))
        if latest == ConsentAction.REVOKED:
            found[c.key] = out_of[purpose]
        elif purpose == "marketing" and latest != ConsentAction.GRANTED:
            found[c.key] = missing
    return found


def rule_frequency_cap(candidates: Sequence[Candidate], context: Context) -> dict[Any, Refusal]:
    """At most N marketing messages per customer per period, across everything that sends.

    Decided when messages are created (a queued message is already counted).
    """
    if context.stage != "create":
        return {}
    from comptoir.messaging.models import Message

    concerned = [c for c in candidates if c.purpose == "marketing" and c.contact_id]
    if not concerned:
        return {}
    policy = context.policy()
    since = context.now - dt.timedelta(days=policy.cap_days)
    counts: Counter[Any] = Counter()
    messages = connection.ops.quote_name(Message._meta.db_table)
    contact_field = Message._meta.get_field("contact")
    since_db = convert(Message._meta.get_field("created_at"), since)
    for chunk in _chunks({c.contact_id for c in concerned}):
        as_stored = {convert(contact_field, i): i for i in chunk}
        where, params = in_list("contact_id", list(as_stored))
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT contact_id, COUNT(*) FROM {messages} "  # noqa: S608 - names from the model
                f"WHERE workspace_id = %s AND purpose = 'marketing' AND created_at >= %s "
                f"AND status NOT IN ('blocked', 'failed') AND {where} GROUP BY contact_id",
                [
                    convert(Message._meta.get_field("workspace"), context.workspace.id),
                    since_db,
                    *params,
                ],
            )
            counts.update({as_stored[cid]: n for cid, n in cursor.fetchall()})
    found = {}
    reason = _("This customer already got %(n)d marketing message(s) in %(days)d days.") % {
        "n": policy.cap_count,
        "days": policy.cap_days,
    }
    capped = Refusal("frequency_cap", reason)
    for c in concerned:
        if counts[c.contact_id] >= policy.cap_count:
            found[c.key] = capped
        else:
            counts[c.contact_id] += 1  # two in one batch: the second is capped
    return found


@lru_cache(maxsize=4096)
def _place(prefix: str) -> tuple[str | None, str]:
    """(country, time zone) a number's leading digits imply; cached by prefix, not number."""
    try:
        number = phonenumbers.parse(prefix.ljust(12, "0"))
    except phonenumbers.NumberParseException:
        return None, ""
    zones = [z for z in phone_timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    return phonenumbers.region_code_for_number(number), zones[0] if zones else ""


def rule_sending_window(candidates: Sequence[Candidate], context: Context) -> dict[Any, Refusal]:
    """Marketing waits for the legal sending hours in the recipient's time zone.

    The zone is the contact's own, else the number's, else the workspace's. Service
    messages are never held.
    """
    found: dict[Any, Refusal] = {}
    # Audiences share a handful of (country, zone, minute) triples: decide each once.
    memo: dict[tuple[Any, ...], Refusal | None] = {}
    for c in candidates:
        if c.purpose != "marketing":
            continue
        # +1 415… needs the area code to know the zone; elsewhere the country is enough.
        country, number_zone = _place(c.phone[:6]) if c.phone.startswith("+") else (None, "")
        zone = c.contact_tz or number_zone or context.workspace.timezone
        policy = context.policy(country)
        at = max(c.send_at or context.now, context.now)
        key = (policy.marketing_window, policy.country, zone, at.replace(second=0, microsecond=0))
        if key not in memo:
            memo[key] = _deferral(policy, zone, at)
        refusal = memo[key]
        if refusal is not None:
            found[c.key] = refusal
    return found


def _deferral(policy: CountryPolicy, zone: str, at: dt.datetime) -> Refusal | None:
    tz = zoneinfo.ZoneInfo(zone)
    closed = next_opening(policy.marketing_window, policy.country, at, tz)
    if closed is None:
        return None
    opening, code = closed
    when = formats.date_format(opening.astimezone(tz), "D d/m H:i")
    reason = (
        _("Deferred: marketing is not sent on public holidays. It goes %(when)s (%(zone)s).")
        if code == "holiday"
        else _("Deferred: outside legal sending hours. It goes %(when)s (%(zone)s).")
    ) % {"when": when, "zone": zone}
    return Refusal(code, reason, until=opening)


# Final refusals first; the deferral last, so a message is never deferred only to be
# refused when its time comes.
RULES: tuple[Rule, ...] = (
    rule_textable,
    rule_suppressed,
    rule_consent,
    rule_frequency_cap,
    rule_sending_window,
)


def refusals(candidates: Sequence[Candidate], context: Context) -> dict[Any, Refusal]:
    """The first refusal (or deferral) of each candidate; absent keys may go now."""
    found: dict[Any, Refusal] = {}
    for rule in RULES:
        remaining = [c for c in candidates if c.key not in found]
        if not remaining:
            break
        found.update(rule(remaining, context))
    return found
