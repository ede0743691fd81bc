"""Which channel an automation's message goes by, and which next when that one cannot.

The rule names a channel or "preferred" (the customer's own choice). A customer who
cannot get that one is reached the way that works: a fixed line by a call (text-to-speech
of the same message) when the shop has a channel that can call, else by email when they
have one; a customer with no number but an email by email. Then the rule's fallback
chain, in order, for a refusal or a failed delivery (see firing and fallback).
"""

from __future__ import annotations

from collections.abc import Sequence

from comptoir.automations.models import AutomationRule, RuleChannel
from comptoir.channels.models import Channel, ChannelStatus
from comptoir.contacts.models import Contact
from comptoir.contacts.phones import TEXTABLE_TYPES
from comptoir.messaging.models import Medium
from comptoir.messaging.outbox import SendRequest
from comptoir.messaging.voice import voice_channels
from comptoir.workspaces.models import Workspace

SMS, VOICE, EMAIL = "sms", "voice", "email"
# Refusals another channel fixes: a fixed line cannot get a text, a channel that cannot
# call, a provider that refused this message.
FIXABLE_CODES = frozenset({"not_mobile", "no_voice", "rejected"})


def channels_available(workspace: Workspace) -> set[str]:
    """sms, voice, email: what the workspace's enabled channels can do (two queries)."""
    schemes = set(
        Channel.objects.for_workspace(workspace)
        .exclude(status=ChannelStatus.DISABLED)
        .values_list("scheme", flat=True)
    )
    found = {s for s in schemes if s in (SMS, EMAIL)}
    if SMS in schemes and voice_channels(workspace):
        found.add(VOICE)
    return found


def reachable(contact: Contact, channel: str) -> bool:
    """Whether the contact has what `channel` needs (a mobile, a number, an email)."""
    if channel == EMAIL:
        return bool(contact.email)
    if not contact.phone:
        return False
    if channel == SMS:
        return contact.number_type in TEXTABLE_TYPES or contact.number_type == "unknown"
    return True  # a call reaches a mobile or a fixed line


def channel_plan(rule: AutomationRule, contact: Contact, available: set[str]) -> list[str]:
    """The channels to try for this rule and customer, in order (never empty)."""
    first = rule.channel
    if first == RuleChannel.PREFERRED:
        first = contact.preferred_channel or SMS
    usable = [c for c in (SMS, VOICE, EMAIL) if c in available and reachable(contact, c)]
    if first not in usable:
        # What works for this customer: a call for a fixed line, else their email.
        first = next((c for c in (VOICE, EMAIL) if c in usable), first)
    plan = [first]
    plan += [c for c in rule.fallback or () if c != first and c in usable]
    return plan


def request_for(
    channel: str,
    *,
    contact_id: str,
    body: str,
    purpose: str,
    key: str,
    kind: str,
    gather_digits: int = 0,
) -> SendRequest:
    """The outbox request that sends `body` by `channel` (sms, voice or email); a call
    listens for `gather_digits` keys."""
    if channel == VOICE:
        return SendRequest(
            to=contact_id, body=body, purpose=purpose, idempotency_key=key, kind=kind,
            medium=Medium.VOICE, gather_digits=gather_digits,
        )  # fmt: skip
    return SendRequest(
        to=contact_id, body=body, purpose=purpose, idempotency_key=key, kind=kind, scheme=channel
    )


def next_channels(rule: AutomationRule, contact: Contact, tried: Sequence[str],
                  available: set[str]) -> list[str]:  # fmt: skip
    """The rule's fallback channels after those tried, that can reach this customer."""
    return [
        c
        for c in rule.fallback or ()
        if c not in tried and c in available and reachable(contact, c)
    ]
