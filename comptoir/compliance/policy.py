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
from django.db import connection, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from phonenumbers import timezone as phone_timezone

from comptoir.compliance.audit import AuditAction, audit_record
from comptoir.compliance.consent import EMAIL_SCOPE, PHONE_SCOPE, consent_latest, consent_scope
from comptoir.compliance.countries import (
    CountryPolicy,
    next_opening,
    policy_for,
    policy_overrides_validate,
)
from comptoir.compliance.decisions import CONSENT_EXEMPT_KINDS, Candidate, Refusal
from comptoir.compliance.gdpr import rule_suppressed
from comptoir.compliance.models import ConsentAction
from comptoir.contacts.phones import TEXTABLE_TYPES
from comptoir.core.bulk import convert, key_of, keys_in, uuid_array, uuid_keys
from comptoir.core.errors import ValidationError

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
    """Opted-out customers get nothing more; marketing needs a recorded opt-in.

    Both are read on the candidate's own family of channels: an unsubscribe link in an
    email stops emails, a STOP stops texts and calls, and email marketing needs consent
    given for email.
    """
    concerned = [c for c in candidates if c.contact_id and c.kind not in CONSENT_EXEMPT_KINDS]
    keys = uuid_keys(c.contact_id for c in concerned)
    scopes = [consent_scope(c.scheme) for c in concerned]
    by_scope: dict[str, set[str]] = {}
    for key, scope in zip(keys, scopes, strict=True):
        by_scope.setdefault(scope, set()).add(key)
    # Per scope: (contact key, purpose) -> the latest action.
    state: dict[str, dict[tuple[str, str], str]] = {scope: {} for scope in by_scope}
    for scope, scope_keys in by_scope.items():
        for chunk in _chunks(scope_keys):
            state[scope].update(consent_latest(chunk, scope=scope))
    out_of = {
        (p, scope): Refusal("opted_out", _refusal_text(p, scope))
        for p in ("marketing", "service")
        for scope in (PHONE_SCOPE, EMAIL_SCOPE)
    }
    missing = {
        PHONE_SCOPE: Refusal(
            "no_consent", _("No marketing consent is recorded for this customer.")
        ),
        EMAIL_SCOPE: Refusal(
            "no_consent", _("No consent to marketing emails is recorded for this customer.")
        ),
    }
    found = {}
    for c, key, scope in zip(concerned, keys, scopes, strict=True):
        purpose = "marketing" if c.purpose == "marketing" else "service"
        latest = state[scope].get((key, purpose))
        if latest == ConsentAction.REVOKED:
            found[c.key] = out_of[(purpose, scope)]
        elif purpose == "marketing" and latest != ConsentAction.GRANTED:
            found[c.key] = missing[scope]
    return found


def _refusal_text(purpose: str, scope: str) -> str:
    if scope == EMAIL_SCOPE:
        return (
            _("This customer unsubscribed from marketing emails.")
            if purpose == "marketing"
            else _("This customer asked for no more emails.")
        )
    return _("This customer opted out (STOP) of %(purpose)s messages.") % {
        "purpose": _("marketing") if purpose == "marketing" else _("service")
    }


def rule_frequency_cap(candidates: Sequence[Candidate], context: Context) -> dict[Any, Refusal]:
    """At most N marketing messages per customer per period, across everything that sends.

    Decided when messages are created (a queued message is already counted).
    """
    if context.stage != "create":
        return {}
    concerned = [c for c in candidates if c.purpose == "marketing" and c.contact_id]
    if not concerned:
        return {}
    policy = context.policy()
    since = context.now - dt.timedelta(days=policy.cap_days)
    keys = uuid_keys(c.contact_id for c in concerned)
    counts: Counter[str] = Counter()
    for chunk in _chunks(set(keys)):
        counts.update(_marketing_sent(context.workspace.id, since, chunk))
    found = {}
    reason = _("This customer already got %(n)d marketing message(s) in %(days)d days.") % {
        "n": policy.cap_count,
        "days": policy.cap_days,
    }
    capped = Refusal("frequency_cap", reason)
    for c, key in zip(concerned, keys, strict=True):
        if counts[key] >= policy.cap_count:
            found[c.key] = capped
        else:
            counts[key] += 1  # two in one batch: the second is capped
    return found


def _marketing_sent(workspace_id: Any, since: dt.datetime, keys: list[str]) -> dict[str, int]:
    """Marketing messages created since `since` per contact (keys from `uuid_keys`), for
    the contacts that have any.

    On PostgreSQL one index probe per contact (LATERAL): the statistics of the message
    table are stale during a launch, which writes to it, and the plan they suggested,
    every message of the workspace since `since` filtered by contact, grew with each
    batch written (quadratic in the audience).
    """
    from comptoir.messaging.models import Message

    messages = connection.ops.quote_name(Message._meta.db_table)
    workspace_db = convert(Message._meta.get_field("workspace"), workspace_id)
    since_db = convert(Message._meta.get_field("created_at"), since)
    counted = (
        "workspace_id = %s AND purpose = 'marketing' AND created_at >= %s "
        "AND status NOT IN ('blocked', 'failed')"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT {key_of('wanted.id')}, sent.n "  # noqa: S608 - names from the model
                f"FROM unnest(%s::uuid[]) AS wanted(id) CROSS JOIN LATERAL "
                f"(SELECT COUNT(*) AS n FROM {messages} "
                f"WHERE contact_id = wanted.id AND {counted}) AS sent WHERE sent.n > 0",
                [uuid_array(keys), workspace_db, since_db],
            )
        else:
            where, params = keys_in("contact_id", keys)
            cursor.execute(
                f"SELECT {key_of('contact_id')}, COUNT(*) FROM {messages} "  # noqa: S608 - names from the model
                f"WHERE {counted} AND {where} GROUP BY contact_id",
                [workspace_db, since_db, *params],
            )
        return dict(cursor.fetchall())


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
    policies: dict[Any, CountryPolicy] = {}
    now, this_minute = context.now, context.now.replace(second=0, microsecond=0)
    for c in candidates:
        if c.purpose != "marketing":
            continue
        # +1 415… needs the area code to know the zone; elsewhere the country is enough.
        country, number_zone = _place(c.phone[:6]) if c.phone.startswith("+") else (None, "")
        zone = c.contact_tz or number_zone or context.workspace.timezone
        policy = policies.get(country) or policies.setdefault(country, context.policy(country))
        if c.send_at is None or c.send_at <= now:
            at, minute = now, this_minute
        else:
            at, minute = c.send_at, c.send_at.replace(second=0, microsecond=0)
        key = (policy.marketing_window, policy.country, zone, minute)
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


def workspace_policy_update(
    *,
    workspace: Any,
    overrides: dict[str, Any],
    timezone_name: str,
    actor: Any = None,
    actor_label: str = "",
) -> dict[str, Any]:
    """Replace a workspace's policy overrides and set its time zone, validated and audited.

    The overrides are checked by `policy_overrides_validate`, the time zone against the
    IANA database, and the resulting marketing window must open some day (a start after
    its end would hold marketing forever). Errors name the field (`timezone`,
    `policy.cap_count`…). Returns what changed, {name: [old, new]}; nothing is written
    (nor audited) when nothing changed.
    """
    policy_overrides_validate(overrides)
    if timezone_name not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(zone)r is not a time zone (use a name like Europe/Paris).")
            % {"zone": timezone_name},
            field="timezone",
        )
    window = policy_for(
        workspace.region, default_country=workspace.region, overrides=overrides
    ).marketing_window
    if window.start >= window.end:
        raise ValidationError(
            _("The sending window must end after it starts (%(start)s).")
            % {"start": window.start.strftime("%H:%M")},
            field="policy.marketing_window.end",
        )
    changed: dict[str, Any] = {}
    old = workspace.policy or {}
    for key in sorted(set(old) | set(overrides)):
        if old.get(key) != overrides.get(key):
            changed[f"policy.{key}"] = [old.get(key), overrides.get(key)]
    if workspace.timezone != timezone_name:
        changed["timezone"] = [workspace.timezone, timezone_name]
    if not changed:
        return changed
    with transaction.atomic():
        workspace.policy = dict(overrides)
        workspace.timezone = timezone_name
        workspace.save(update_fields=["policy", "timezone", "updated_at"])
        audit_record(
            workspace=workspace,
            action=AuditAction.SETTINGS_CHANGED,
            actor=actor,
            actor_label=actor_label,
            target="sending policy",
            details={"changed": changed},
        )
    return changed
