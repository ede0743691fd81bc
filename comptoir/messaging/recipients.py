"""Who a message goes to and on which channel: the contact, the channel, the address.

A request names its recipient by phone number, contact id or (for email) email address,
and its channel by id or by scheme; the address written on the message is the contact's
number for texts and the contact's email for emails.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from comptoir.channels.models import Channel, ChannelStatus
from comptoir.contacts.models import Contact
from comptoir.contacts.phones import Phone, parse_phone
from comptoir.contacts.services import contacts_for_phones
from comptoir.core.errors import NotFound, ValidationError
from comptoir.workspaces.memo import workspace_memo
from comptoir.workspaces.models import Workspace

if TYPE_CHECKING:
    from comptoir.messaging.outbox import SendRequest

EMAIL = "email"


@dataclass(frozen=True, slots=True)
class Recipient:
    contact: Contact
    address: str  # what the channel sends to: an E.164 number or an email address


def field_name(prefix: str, index: int, name: str) -> str:
    """The field an error names: `to` for one message, `messages.3.to` in a batch."""
    return f"{prefix}{index}.{name}" if prefix else name


def default_channel(workspace: Workspace, scheme: str = "sms", field: str | None = None) -> Channel:
    """The channel a message of this scheme goes on when it names none (kept in the
    workspace's memo: an auto-answer or a keyword's reply looked it up at every text)."""
    channel: Channel | None = workspace_memo(
        workspace,
        f"default_channel:{scheme}",
        lambda: (
            Channel.objects.for_workspace(workspace)
            .filter(scheme=scheme)
            .exclude(status=ChannelStatus.DISABLED)
            .order_by("-is_default", "created_at")
            .first()
        ),
    )
    if channel is None:
        raise ValidationError(
            _("This workspace has no %(scheme)s channel.") % {"scheme": scheme}, field=field
        )
    return channel


def channels_for(
    workspace: Workspace, requests: Sequence[SendRequest], prefix: str
) -> list[Channel]:
    """Each request's channel: the one it names, else the default one of its scheme."""
    by_key: dict[tuple[str, str], Channel] = {}
    out = []
    for index, request in enumerate(requests):
        key = (request.channel or "", request.scheme or "")
        if key not in by_key:
            by_key[key] = _channel(workspace, request, prefix, index)
        out.append(by_key[key])
    return out


def _channel(workspace: Workspace, request: SendRequest, prefix: str, index: int) -> Channel:
    if not request.channel:
        return default_channel(
            workspace, request.scheme or "sms", field=field_name(prefix, index, "scheme")
        )
    field = field_name(prefix, index, "channel")
    try:
        channel_id = uuid.UUID(str(request.channel))
    except ValueError:
        raise ValidationError(
            _("%(value)r is not a channel id.") % {"value": request.channel}, field=field
        ) from None
    channel = Channel.objects.for_workspace(workspace).filter(id=channel_id).first()
    if channel is None:
        raise NotFound(_("No channel with id %(id)s.") % {"id": channel_id}, field=field)
    if channel.status == ChannelStatus.DISABLED:
        raise ValidationError(
            _("Channel %(name)s is disabled.") % {"name": channel.name}, field=field
        )
    if request.scheme and request.scheme != channel.scheme:
        raise ValidationError(
            _("Channel %(name)s sends %(scheme)s, not %(asked)s.")
            % {"name": channel.name, "scheme": channel.scheme, "asked": request.scheme},
            field=field_name(prefix, index, "scheme"),
        )
    return channel


def resolve_recipients(
    workspace: Workspace,
    requests: Sequence[SendRequest],
    schemes: Sequence[str],
    prefix: str,
) -> list[Recipient]:
    """The contact and address of each request, in a few queries for the whole batch.

    Numbers nobody knows yet become prospects; an email goes only to a contact that has
    an email address (and an email address names an existing contact).
    """
    phones: dict[int, Phone] = {}
    contact_ids: dict[int, uuid.UUID] = {}
    emails: dict[int, str] = {}
    for index, request in enumerate(requests):
        to = (request.to or "").strip()
        try:
            contact_ids[index] = uuid.UUID(to)
            continue
        except ValueError:
            pass
        if schemes[index] == EMAIL and "@" in to:
            emails[index] = to.lower()
            continue
        phones[index] = parse_phone(
            to, region=workspace.region, field=field_name(prefix, index, "to")
        )
    by_phone = contacts_for_phones(workspace=workspace, phones=phones.values())
    contacts = Contact.objects.for_workspace(workspace)
    by_id = {c.id: c for c in contacts.filter(id__in=contact_ids.values())} if contact_ids else {}
    by_email: dict[str, list[Contact]] = {}
    if emails:
        matching = contacts.annotate(email_lower=Lower("email")).filter(
            email_lower__in=set(emails.values())
        )
        for contact in matching:
            by_email.setdefault(contact.email.lower(), []).append(contact)

    found: list[Contact] = []
    for index in range(len(requests)):
        field = field_name(prefix, index, "to")
        if index in phones:
            found.append(by_phone[phones[index].e164])
        elif index in emails:
            found.append(_one_by_email(by_email.get(emails[index], []), emails[index], field))
        elif contact_ids[index] in by_id:
            found.append(by_id[contact_ids[index]])
        else:
            message = _("No contact with id %(id)s.") % {"id": contact_ids[index]}
            raise NotFound(message, field=field)
    return _addresses(found, schemes, prefix)


def _one_by_email(matches: list[Contact], email: str, field: str) -> Contact:
    if not matches:
        raise NotFound(
            _("No contact has the email address %(email)s.") % {"email": email}, field=field
        )
    if len(matches) > 1:
        raise ValidationError(
            _("%(n)d contacts have the email address %(email)s: send to a contact id instead.")
            % {"n": len(matches), "email": email},
            field=field,
        )
    return matches[0]


def _addresses(contacts: Sequence[Contact], schemes: Sequence[str], prefix: str) -> list[Recipient]:
    """The number for texts and calls, the email for emails (checked, field named)."""
    # Contacts found by number load without their email: one query for those that need it.
    need = {c.id for c, s in zip(contacts, schemes, strict=True) if s == EMAIL}
    emails = dict(Contact.objects.filter(id__in=need).values_list("id", "email") if need else [])
    out = []
    for index, (contact, scheme) in enumerate(zip(contacts, schemes, strict=True)):
        if scheme != EMAIL:
            out.append(Recipient(contact, contact.phone))
            continue
        email = (emails.get(contact.id) or "").strip()
        field = field_name(prefix, index, "to")
        if not email:
            raise ValidationError(
                _("Contact %(name)s has no email address (the contact's `email` field is empty).")
                % {"name": contact.display_name},
                field=field,
            )
        try:
            validate_email(email)
        except DjangoValidationError:
            raise ValidationError(
                _("Contact %(name)s's email address %(email)r is not valid.")
                % {"name": contact.display_name, "email": email},
                field=field,
            ) from None
        out.append(Recipient(contact, email))
    return out
