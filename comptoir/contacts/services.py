"""Writes on contacts."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from comptoir.contacts.models import Contact, Tag
from comptoir.contacts.phones import Phone, parse_phone
from comptoir.core.bulk import in_list, insert_rows
from comptoir.core.errors import Conflict, ValidationError
from comptoir.core.fetch import objects_where, param
from comptoir.core.ids import uuid7
from comptoir.workspaces.memo import memo_forget
from comptoir.workspaces.models import Workspace


class DuplicateContact(Conflict):
    code = "duplicate_contact"

    def __init__(self, existing: Contact):
        super().__init__(
            f"A contact with phone {existing.phone} already exists in this workspace.",
            field="phone",
        )
        self.existing = existing


def _clean_optional(*, email: str, language: str, timezone_name: str) -> tuple[str, str, str]:
    email = email.strip()
    if email:
        try:
            validate_email(email)
        except DjangoValidationError as exc:
            raise ValidationError(f"{email!r} is not an email address.", field="email") from exc
    if timezone_name and timezone_name not in zoneinfo.available_timezones():
        raise ValidationError(
            f"{timezone_name!r} is not a time zone (use a name like Europe/Paris).",
            field="timezone",
        )
    return email, language.strip().lower(), timezone_name


def contact_create(
    *,
    workspace: Workspace,
    phone: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    language: str = "",
    timezone_name: str = "",
    birthday: dt.date | None = None,
    attributes: dict[str, Any] | None = None,
    tags: Iterable[str] = (),
    is_prospect: bool = False,
) -> Contact:
    """Create a contact; the phone is normalised to E.164 with the workspace's region.

    Raises ValidationError for a bad field and DuplicateContact when the number exists.
    """
    parsed = parse_phone(phone, region=workspace.region)
    email, language, timezone_name = _clean_optional(
        email=email, language=language, timezone_name=timezone_name
    )
    existing = Contact.objects.for_workspace(workspace).filter(phone=parsed.e164).first()
    if existing is not None:
        raise DuplicateContact(existing)
    try:
        with transaction.atomic():
            contact = Contact.objects.create(
                workspace=workspace,
                phone=parsed.e164,
                number_type=parsed.number_type,
                first_name=first_name.strip(),
                last_name=last_name.strip(),
                email=email,
                language=language,
                timezone=timezone_name,
                birthday=birthday,
                attributes=attributes or {},
                is_prospect=is_prospect,
            )
            tag_names = sorted({t.strip() for t in tags if t.strip()})
            if tag_names:
                contact.tags.set(tags_get_or_create(workspace=workspace, names=tag_names))
    except IntegrityError:
        # Another request created the same number between our check and our insert.
        raise DuplicateContact(
            Contact.objects.for_workspace(workspace).get(phone=parsed.e164)
        ) from None
    return contact


def tags_get_or_create(*, workspace: Workspace, names: Iterable[str]) -> list[Tag]:
    wanted = set(names)
    Tag.objects.bulk_create(
        [Tag(workspace=workspace, name=n) for n in wanted], ignore_conflicts=True
    )
    memo_forget()  # a bulk insert sends no signal
    return list(Tag.objects.for_workspace(workspace).filter(name__in=wanted))


def contacts_for_phones(
    *, workspace: Workspace, phones: Iterable[Phone], fields: Sequence[str] | None = None
) -> dict[str, Contact]:
    """The contacts for parsed numbers, by E.164, creating the missing ones in bulk.

    Numbers nobody has typed a name for are created as prospects. Loaded with `fields`
    (what sending needs by default; the rest of a contact loads on first use), or every
    field when `fields` is empty.
    """
    wanted = {p.e164: p for p in phones}
    found = {c.phone: c for c in _contacts_read(workspace, list(wanted), fields)}
    # In one order whatever the caller's: two transactions inserting the same new numbers
    # wait for each other instead of deadlocking on the unique index.
    missing = sorted((p for e164, p in wanted.items() if e164 not in found), key=lambda p: p.e164)
    if missing:
        now = timezone.now()
        rows = [
            contact_row(
                contact_id=uuid7(),
                workspace_id=workspace.id,
                phone=p.e164,
                number_type=p.number_type,
                now=now,
                is_prospect=True,
            )
            for p in missing
        ]
        # Created meanwhile by another request: theirs is skipped here, and read below.
        if insert_rows(Contact, CONTACT_COLUMNS, rows, ignore_conflicts=True) == len(rows):
            found.update((c.phone, c) for c in _unsaved_as_stored(rows))
        else:
            again = _contacts_read(workspace, [p.e164 for p in missing], fields)
            found.update((c.phone, c) for c in again)
    return found


def _contacts_read(
    workspace: Workspace, numbers: list[str], fields: Sequence[str] | None
) -> list[Contact]:
    """The workspace's contacts with these numbers, loaded as `contacts_for_phones` says.
    Hand-written: compiling the ORM's query and building its objects cost more than
    running it, and the API's sends and the inbound path read a contact per message."""
    if not numbers:
        return []
    where, values = in_list("phone", numbers)
    condition = f"workspace_id = %s AND {where}"
    params = [param(Contact, "workspace_id", workspace.id), *values]
    # Every column when `fields` is empty; else as `.only(*fields)`: the rest deferred.
    only = SENDING_FIELDS if fields is None else fields
    return objects_where(Contact, condition, params, only=only)


def _unsaved_as_stored(rows: Sequence[tuple[Any, ...]]) -> list[Contact]:
    """Contacts just inserted from `contact_row` rows, as a read would give them back
    (every other column takes its default, as in the table)."""
    contacts = [Contact(**dict(zip(CONTACT_COLUMNS, row, strict=True))) for row in rows]
    for contact in contacts:
        contact._state.adding = False
        contact._state.db = connection.alias
    return contacts


SENDING_FIELDS = (
    "id",
    "workspace_id",
    "phone",
    "number_type",
    "first_name",
    "last_name",
    "timezone",
)


def contact_row(
    *,
    contact_id: Any,
    workspace_id: Any,
    phone: str,
    number_type: str,
    now: Any,
    is_prospect: bool,
) -> tuple[Any, ...]:
    """A new contact with only a number, as a row in CONTACT_COLUMNS order (bulk inserts)."""
    return (
        contact_id,
        now,
        now,
        workspace_id,
        phone,
        number_type,
        "",
        "",
        "",
        "",
        "",
        None,
        "sms",
        {},
        is_prospect,
    )


CONTACT_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "workspace_id",
    "phone",
    "number_type",
    "first_name",
    "last_name",
    "email",
    "language",
    "timezone",
    "birthday",
    "preferred_channel",
    "attributes",
    "is_prospect",
)
