"""Opt-outs a provider reports: the customer told the provider, not us, to stop.

Twilio answers error 21610 when a recipient replied STOP to its opt-out handling (which
can happen before, or instead of, the STOP reaching our own keyword step). The provider
will refuse every further text to them, so the revocation is recorded here like a
keyword STOP: both purposes, source "provider", the provider's error code as proof.
It runs as a channel-event step, inside the transaction that stores the webhook, and
from the dispatcher when a send is refused for that reason (`contact_stopped`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from comptoir.channels.models import Channel
from comptoir.compliance.consent import consent_record
from comptoir.compliance.models import ConsentAction, ConsentEvent, ConsentSource
from comptoir.contacts.models import Contact
from comptoir.contacts.phones import parse_phone
from comptoir.core.errors import ValidationError
from comptoir.providers.base import ChannelEvent, SendResult

log = logging.getLogger(__name__)

OPT_OUT = "opt_out"
PURPOSES = ("marketing", "service")  # as a keyword STOP: the provider blocks every text


def provider_optouts_record(channel: Channel, events: Sequence[ChannelEvent]) -> None:
    """Channel-event step: revoke consent for each opted-out recipient, once per report."""
    for event in events:
        if event.kind != OPT_OUT:
            continue
        try:
            phone = parse_phone(event.sender, region=channel.workspace.region, field="to")
        except ValidationError:
            log.warning("channel %s: opt-out for an unreadable number ignored", channel.id)
            continue
        # Only someone we know: an opt-out report comes after we texted them.
        contact = Contact.objects.filter(
            workspace_id=channel.workspace_id, phone=phone.e164
        ).first()
        if contact is None:
            log.info("channel %s: opt-out for a number with no contact ignored", channel.id)
            continue
        proof = {
            "provider": channel.provider,
            "error_code": str(event.extra.get("error_code", "")),
            "provider_id": event.provider_id,
        }
        _revoke(channel, contact, proof, key="provider_id")


def provider_optouts_at_send(
    channel: Channel, stopped: Sequence[tuple[Mapping[str, Any], SendResult]]
) -> None:
    """The provider refused a send because the recipient opted out with it (Twilio 21610
    at send time): recorded as for a report, inside the dispatcher's transaction."""
    contacts = Contact.objects.in_bulk([row["contact_id"] for row, _ in stopped])
    for row, result in stopped:
        contact = contacts.get(row["contact_id"])
        if contact is None:
            continue
        proof = {
            "provider": channel.provider,
            "error_code": result.error_code,
            "message_id": str(row["id"]),
        }
        _revoke(channel, contact, proof, key="message_id")


def _revoke(channel: Channel, contact: Contact, proof: dict[str, str], *, key: str) -> None:
    # The same report delivered twice (or the same message answered twice) records one.
    if (
        proof[key]
        and ConsentEvent.objects.filter(
            contact=contact,
            source=ConsentSource.PROVIDER,
            action=ConsentAction.REVOKED,
            **{f"proof__{key}": proof[key]},
        ).exists()
    ):
        return
    consent_record(
        contact=contact,
        purposes=PURPOSES,
        action=ConsentAction.REVOKED,
        source=ConsentSource.PROVIDER,
        proof=proof,
        channel=channel.scheme,
    )


def register() -> None:
    """Add the step to the inbound path (called once, from the compliance app's ready())."""
    from comptoir.messaging.inbound import channel_event_step_add

    channel_event_step_add(provider_optouts_record)
