"""Writing checked rows: contacts, tags, purchases and consent, set-based.

A few queries per 5,000 rows, never one per contact. The caller holds one transaction
(all or nothing); imports of one workspace are serialised by locking its row, so two
imports of the same file cannot both insert what neither saw.

Idempotent by construction: contacts are matched by number and only what differs is
written (a blank cell erases nothing); a purchase's id is made from its natural key
(`purchase_id`); consent: see comptoir.imports.consent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection
from django.utils import timezone

from comptoir.contacts.models import Contact, Purchase
from comptoir.contacts.services import CONTACT_COLUMNS, tags_get_or_create
from comptoir.core.bulk import convert, converter, in_list, insert_rows, update_objects
from comptoir.core.ids import uuid7
from comptoir.imports.consent import consent_write
from comptoir.imports.models import ImportJob
from comptoir.imports.validate import Checked, ContactRecord, PurchaseRecord
from comptoir.workspaces.models import Workspace

CHUNK = 5000
CONTACT_FIELDS = ("first_name", "last_name", "email", "birthday", "language")
PURCHASE_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "workspace_id",
    "contact_id",
    "purchased_on",
    "amount",
    "product_type",
    "material",
    "brand",
    "store",
)
# Notes kept on the job (an erased number's consent not revived…): enough to act on.
MAX_NOTES = 200


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def write_checked(
    *, job: ImportJob, checked: Checked, actor: Any = None, actor_label: str = ""
) -> dict[str, Any]:
    """Write what `checked` holds for the job's workspace; the counts of what changed.

    Call inside a transaction. Returns contacts created/updated/unchanged, purchases
    created/already there, consent events granted/revoked and notes (line, column, why)
    about answers that were deliberately not recorded.
    """
    workspace = Workspace.objects.select_for_update().get(pk=job.workspace_id)
    summary: Counter[str] = Counter()
    notes: list[dict[str, Any]] = []
    ids, known = _contacts(workspace, checked, summary)
    _tags(workspace, checked, ids)
    if checked.purchases:
        _purchases(workspace, checked, ids, known, summary)
    consent_write(
        workspace=workspace,
        job=job,
        checked=checked,
        ids=ids,
        summary=summary,
        notes=notes,
        actor=actor,
        actor_label=actor_label,
    )
    return {**summary, "notes": notes[:MAX_NOTES], "notes_total": len(notes)}


def _existing(workspace: Workspace, phones: Sequence[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    contacts = Contact.objects.for_workspace(workspace)
    for chunk in _chunks(phones):
        for row in contacts.filter(phone__in=chunk).values(
            "id", "phone", "is_prospect", "attributes", *CONTACT_FIELDS
        ):
            found[row["phone"]] = row
    return found


def _contacts(
    workspace: Workspace, checked: Checked, summary: Counter[str]
) -> tuple[dict[str, Any], set[str]]:
    """Create the new numbers, update what differs on the known ones: the ids by E.164,
    and the numbers that were known before."""
    phones = list(checked.contacts)
    existing = _existing(workspace, phones)
    now = timezone.now()
    new = [checked.contacts[p] for p in phones if p not in existing]
    insert_rows(
        Contact,
        CONTACT_COLUMNS,
        (_new_row(workspace, record, now) for record in new),
        # Created meanwhile by a text or the API: theirs is kept, the file's values are
        # written by the next import.
        ignore_conflicts=True,
    )
    created = _existing(workspace, [r.phone for r in new])
    summary["contacts_created"] += len(created)
    changed = []
    for phone, row in existing.items():
        update = _changes(row, checked.contacts[phone])
        if update is None:
            summary["contacts_unchanged"] += 1
            continue
        changed.append(Contact(id=row["id"], updated_at=now, **update))
    update_objects(changed, ("updated_at", *CONTACT_FIELDS, "attributes", "is_prospect"))
    summary["contacts_updated"] += len(changed)
    return {phone: row["id"] for phone, row in (existing | created).items()}, set(existing)


def _new_row(workspace: Workspace, record: ContactRecord, now: dt.datetime) -> tuple[Any, ...]:
    values = record.values
    return (
        uuid7(),
        now,
        now,
        workspace.id,
        record.phone,
        record.number_type,
        values.get("first_name", ""),
        values.get("last_name", ""),
        values.get("email", ""),
        values.get("language", ""),
        "",
        values.get("birthday"),
        "sms",
        record.attributes,
        False,
    )


def _changes(row: dict[str, Any], record: ContactRecord) -> dict[str, Any] | None:
    """The contact's fields after the import, or None when the file changes nothing.

    A blank cell keeps what is known; a prospect (a number that wrote to us first) found
    in the shop's customer file is a customer now.
    """
    merged = {name: row[name] for name in CONTACT_FIELDS}
    merged.update(record.values)
    attributes = {**(row["attributes"] or {}), **record.attributes}
    if (
        not row["is_prospect"]
        and attributes == row["attributes"]
        and all(merged[name] == row[name] for name in CONTACT_FIELDS)
    ):
        return None
    return {**merged, "attributes": attributes, "is_prospect": False}


def _tags(workspace: Workspace, checked: Checked, ids: dict[str, Any]) -> None:
    names = sorted({t for record in checked.contacts.values() for t in record.tags})
    if not names:
        return
    tag_ids = {t.name: t.id for t in tags_get_or_create(workspace=workspace, names=names)}
    links = [
        (ids[record.phone], tag_ids[name])
        for record in checked.contacts.values()
        for name in record.tags
        if record.phone in ids
    ]
    # Contact.tags' through table is unique per (contact, tag): a link made before stays.
    insert_rows(Contact.tags.through, ("contact_id", "tag_id"), links, ignore_conflicts=True)


def natural_key(workspace_id: Any, contact_id: Any, record: PurchaseRecord) -> str:
    """What makes a purchase line itself: workspace, customer, day, amount, product type,
    store and receipt (empty when the file has no receipt column)."""
    return "|".join(
        (
            str(workspace_id),
            str(contact_id),
            record.purchased_on.isoformat(),
            str(record.amount),
            record.product_type.casefold(),
            record.store.casefold(),
            record.receipt,
        )
    )


def purchase_id(key: str, occurrence: int) -> uuid.UUID:
    """The purchase's id, made from its natural key: importing the line again inserts the
    same id, so nothing. `occurrence` tells apart identical lines of one file (two same
    cases sold together). A UUID of version 8 (RFC 9562: the bits are ours) of a sha256."""
    digest = hashlib.sha256(f"{key}|{occurrence}".encode()).digest()
    value = int.from_bytes(digest[:16], "big")
    value = (value & ~(0xF << 76)) | (0x8 << 76)  # version 8
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # the RFC variant
    return uuid.UUID(int=value)


def _purchases_there(workspace: Workspace, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these purchase ids exist: plain SQL, one array parameter on PostgreSQL (the
    ORM's 5,000 placeholders cost psycopg more than the query)."""
    as_db = converter(Purchase._meta.pk)
    workspace_id = convert(Purchase._meta.get_field("workspace"), workspace.id)
    table = connection.ops.quote_name(Purchase._meta.db_table)
    there: set[uuid.UUID] = set()
    with connection.cursor() as cursor:
        for chunk in _chunks(ids):
            where, params = in_list("id", [as_db(pk) for pk in chunk])
            cursor.execute(
                f"SELECT id FROM {table} WHERE workspace_id = %s AND {where}",  # noqa: S608
                [workspace_id, *params],
            )
            # SQLite hands back the 32 hex digits, PostgreSQL a UUID.
            there.update(uuid.UUID(str(row[0])) for row in cursor.fetchall())
    return there


def _purchases(
    workspace: Workspace,
    checked: Checked,
    ids: dict[str, Any],
    known: set[str],
    summary: Counter[str],
) -> None:
    seen: Counter[str] = Counter()
    keyed = []
    for r in checked.purchases:
        key = natural_key(workspace.id, ids[r.phone], r)
        seen[key] += 1
        keyed.append((purchase_id(key, seen[key]), r))
    # A customer created by this import has no purchase yet: only the others' are looked up.
    there = _purchases_there(workspace, [pk for pk, r in keyed if r.phone in known])
    now = timezone.now()
    fresh = [(pk, r) for pk, r in keyed if pk not in there]
    insert_rows(
        Purchase,
        PURCHASE_COLUMNS,
        (
            (
                pk,
                now,
                now,
                workspace.id,
                ids[r.phone],
                r.purchased_on,
                r.amount,
                r.product_type,
                r.material,
                r.brand,
                r.store,
            )
            for pk, r in fresh
        ),
        ignore_conflicts=True,  # the same lines imported meanwhile by another job
    )
    summary["purchases_created"] += len(fresh)
    summary["purchases_existing"] += len(keyed) - len(fresh)
