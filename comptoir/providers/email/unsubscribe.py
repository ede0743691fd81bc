"""The unsubscribe link every email carries, and what following it does.

The link holds a signed token naming the channel, the message and the address it went
to, so it works without a session, cannot be forged, and still works after the message
itself was purged by retention (the address names the customer then). One click (RFC
8058) records a revocation of marketing consent on the email channel, with the message
id as proof; it never touches texts or calls.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.core import signing
from django.db import transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext as _

from comptoir.channels.models import Channel
from comptoir.compliance.consent import EMAIL_SCOPE, consent_record, consent_state
from comptoir.compliance.models import ConsentAction, ConsentSource
from comptoir.contacts.models import Contact
from comptoir.messaging.models import Message

SALT = "comptoir.providers.email.unsubscribe"
# Links in old emails keep working this long (CAN-SPAM asks for 30 days at least).
MAX_AGE = dt.timedelta(days=365)


class InvalidToken(ValueError):
    """The link was altered, is not one of ours, or is too old: nothing is changed."""


@dataclass(frozen=True, slots=True)
class Claim:
    channel_id: uuid.UUID
    message_id: str
    address: str


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    shop: str  # the workspace's name, to show whose emails stop
    recorded: int  # revocations written now (0 when already unsubscribed)
    contacts: int  # customers this address belongs to in that workspace


def unsubscribe_token(*, channel_uuid: str, reference: str, address: str) -> str:
    return signing.dumps(
        {"c": channel_uuid, "m": reference, "a": address.lower()}, salt=SALT, compress=True
    )


def unsubscribe_url(*, base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{reverse('email:unsubscribe', args=[token])}"


def claim_read(token: str) -> Claim:
    """What a token says, or InvalidToken with a sentence for the customer."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired:
        raise InvalidToken(
            _("This unsubscribe link has expired. Use the link in a more recent email.")
        ) from None
    except signing.BadSignature:
        raise InvalidToken(
            _("This unsubscribe link is not valid. Check that it was copied whole.")
        ) from None
    try:
        return Claim(uuid.UUID(data["c"]), str(uuid.UUID(data["m"])), str(data["a"]))
    except (KeyError, TypeError, ValueError):
        raise InvalidToken(_("This unsubscribe link is not valid.")) from None


def _contacts(claim: Claim) -> tuple[Channel, list[Contact]]:
    channel = Channel.objects.select_related("workspace").filter(id=claim.channel_id).first()
    if channel is None:
        raise InvalidToken(_("This unsubscribe link belongs to an address that no longer sends."))
    contacts = Contact.objects.for_workspace(channel.workspace)
    matching = contacts.annotate(email_lower=Lower("email")).filter(email_lower=claim.address)
    found: dict[uuid.UUID, Contact] = {c.id: c for c in matching}
    message = (
        Message.objects.for_workspace(channel.workspace)
        .filter(id=claim.message_id)
        .select_related("contact")
        .first()
    )
    if message is not None and message.contact is not None:
        found.setdefault(message.contact.id, message.contact)
    return channel, list(found.values())


def unsubscribe_preview(*, token: str) -> Unsubscribed:
    """Whose emails the link stops and whether that is done already; changes nothing."""
    channel, contacts = _contacts(claim_read(token))
    state = consent_state([c.id for c in contacts], scope=EMAIL_SCOPE)
    pending = sum(state.get((c.id, "marketing")) != ConsentAction.REVOKED for c in contacts)
    return Unsubscribed(shop=channel.workspace.name, recorded=pending, contacts=len(contacts))


def email_unsubscribe(*, token: str) -> Unsubscribed:
    """Revoke marketing by email for the customer(s) at the link's address, once.

    A repeated click (mail providers retry one-click posts) records nothing more.
    """
    claim = claim_read(token)
    with transaction.atomic():
        channel, contacts = _contacts(claim)
        # Locked, so two clicks at once record one revocation.
        ids = [c.id for c in contacts]
        list(Contact.objects.filter(id__in=ids).select_for_update().values_list("id", flat=True))
        state = consent_state(ids, scope=EMAIL_SCOPE)
        recorded = 0
        for contact in contacts:
            if state.get((contact.id, "marketing")) == ConsentAction.REVOKED:
                continue
            consent_record(
                contact=contact,
                purposes=["marketing"],
                action=ConsentAction.REVOKED,
                source=ConsentSource.EMAIL_UNSUBSCRIBE,
                proof={"message_id": claim.message_id},
                channel="email",
            )
            recorded += 1
    return Unsubscribed(shop=channel.workspace.name, recorded=recorded, contacts=len(contacts))
