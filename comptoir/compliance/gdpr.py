"""A customer's rights (GDPR art. 15 and 17): export everything held on them, or erase it.

The export is `export.py`'s; here are the erasure, the reads both share, and the
suppression list: an erased number leaves only a salted hash in it, so that re-importing
it later never makes it textable again by mistake (`rule_suppressed`).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from comptoir.compliance.audit import AuditAction, actor_label_for, audit_record
from comptoir.compliance.decisions import CONSENT_EXEMPT_KINDS, Candidate, Refusal
from comptoir.compliance.models import AuditEntry, ConsentEvent, Suppression, SuppressionReason
from comptoir.contacts.models import Contact
from comptoir.core.bulk import key_of, keys_in, uuid_keys
from comptoir.core.errors import NotFound
from comptoir.core.fetch import rows_where
from comptoir.imports.erasure import imports_forget
from comptoir.workspaces.models import Workspace

# ---------------------------------------------------------------------------------------
# The suppression list
# ---------------------------------------------------------------------------------------


def _root_keys() -> list[bytes]:
    """The current key first, then those of SECRET_KEY_FALLBACKS (a key being rotated).

    COMPTOIR_SUPPRESSION_KEY, when set, makes the list independent of SECRET_KEY.
    """
    own = getattr(settings, "COMPTOIR_SUPPRESSION_KEY", "")
    secrets = [own] if own else [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return [_root(s) for s in secrets]


def _root(secret: str | bytes) -> bytes:
    raw = secret if isinstance(secret, bytes) else secret.encode()
    return hashlib.sha256(b"comptoir.suppression:" + raw).digest()


@lru_cache(maxsize=1024)
def _salt(root: bytes, workspace_id: str) -> bytes:
    # One salt per workspace: the same number erased in two shops gives unrelated hashes.
    return hmac.digest(root, workspace_id.encode(), "sha256")


def _workspace_key(workspace: Workspace | uuid.UUID | str) -> str:
    return str(uuid.UUID(str(getattr(workspace, "pk", workspace))))


def phone_hash(workspace: Workspace | uuid.UUID | str, e164: str) -> str:
    """HMAC-SHA256 of an E.164 number, keyed by the workspace's salt (hex, 64 characters)."""
    salt = _salt(_root_keys()[0], _workspace_key(workspace))
    return hmac.digest(salt, e164.encode(), "sha256").hex()


# A workspace's whole list is read at once when it is this short (erasures are rare, and
# an empty list needs no hashing at all); beyond, the batch's hashes are looked up.
SUPPRESSION_READ_ALL = 10_000


def _suppressed_first(workspace_keys: list[str]) -> list[tuple[str, str]]:
    """(workspace key, phone hash) of these workspaces' suppressions, SUPPRESSION_READ_ALL
    and one at most. Asked at every batch the dispatcher sends, and almost always empty:
    written by hand (the ORM compiled it in twice the time the query takes)."""
    where, params = keys_in("workspace_id", uuid_keys(workspace_keys))
    columns = f"{key_of('workspace_id')}, phone_hash"
    rows = rows_where(Suppression, columns, where, params, limit=SUPPRESSION_READ_ALL + 1)
    return [(_workspace_key(key), hashed) for key, hashed in rows]


def rule_suppressed(candidates: Sequence[Candidate], context: Any = None) -> dict[Any, Refusal]:
    """Numbers erased at the customer's request are never messaged again.

    One query for a batch, and no hashing at all while a workspace has erased no one.
    Answers to the customer's own STOP or HELP still go: they wrote to us.
    """
    by_workspace: dict[Any, list[Candidate]] = defaultdict(list)
    for c in candidates:
        if c.phone and c.workspace_id is not None and c.kind not in CONSENT_EXEMPT_KINDS:
            by_workspace[c.workspace_id].append(c)
    if not by_workspace:
        return {}
    groups: dict[str, list[Candidate]] = defaultdict(list)
    for workspace_id, group in by_workspace.items():  # a UUID and its text are one workspace
        groups[_workspace_key(workspace_id)] += group
    rows = _suppressed_first(list(groups))
    long_list = len(rows) > SUPPRESSION_READ_ALL
    erased: dict[str, set[str]] = defaultdict(set)
    for workspace_key, hashed in rows:
        erased[workspace_key].add(hashed)
    roots = _root_keys()
    digest = hmac.digest
    hashes: dict[str, list[tuple[Any, str]]] = {}
    for key, group in groups.items():
        if key in erased or long_list:  # a workspace that erased no one needs no hashing
            salts = [_salt(root, key) for root in roots]
            hashes[key] = [
                (c.key, digest(salt, c.phone.encode(), "sha256").hex())
                for salt in salts
                for c in group
            ]
    if long_list:
        erased.clear()
        wanted = sorted({h for pairs in hashes.values() for _, h in pairs})
        listed = Suppression.objects.filter(workspace_id__in=list(groups))
        for start in range(0, len(wanted), SUPPRESSION_READ_ALL):
            chunk = wanted[start : start + SUPPRESSION_READ_ALL]
            for workspace_id, hashed in listed.filter(phone_hash__in=chunk).values_list(
                "workspace_id", "phone_hash"
            ):
                erased[str(workspace_id)].add(hashed)
    reason = _("This number was erased at the customer's request; it is never messaged again.")
    return {
        candidate: Refusal("erased", reason)
        for key, pairs in hashes.items()
        for candidate, hashed in pairs
        if hashed in erased[key]
    }


# ---------------------------------------------------------------------------------------
# Reading one contact
# ---------------------------------------------------------------------------------------


def contact_get(*, workspace: Workspace, contact_id: uuid.UUID | str) -> Contact:
    """The workspace's contact, or NotFound (another workspace's contact is not found)."""
    try:
        wanted = uuid.UUID(str(contact_id))
    except ValueError:
        wanted = None
    contact = Contact.objects.for_workspace(workspace).filter(id=wanted).first() if wanted else None
    if contact is None:
        raise NotFound(_("No such contact."), field="contact_id")
    return contact


def consent_history(*, contact: Contact) -> list[ConsentEvent]:
    """A contact's consent events, oldest first, each with `actor_label` (who, in words).

    The label comes from the audit entry written with the event, in one more query.
    """
    events = list(
        ConsentEvent.objects.filter(contact=contact).select_related("actor").order_by("at", "id")
    )
    entries = AuditEntry.objects.filter(
        workspace_id=contact.workspace_id,
        action=AuditAction.CONSENT_RECORDED,
        target=str(contact.id),
    ).values_list("actor_label", "details")
    labels = {
        event_id: label for label, details in entries for event_id in details.get("events", ())
    }
    for event in events:
        fallback = actor_label_for(event.actor) if event.actor else event.source
        event.actor_label = labels.get(event.id, fallback)  # type: ignore[attr-defined]
    return events


# ---------------------------------------------------------------------------------------
# Erasure (right to be forgotten)
# ---------------------------------------------------------------------------------------


def contacts_delete(contacts: Any) -> dict[str, int]:
    """Delete contacts and everything attached to them; rows deleted per model.

    Django's cascade follows every foreign key to Contact (messages and their history,
    consent events, purchases, appointments, tags, and whatever is added later), by
    batches of rows, not one query per contact.
    """
    _, per_model = contacts.delete()
    return {label: n for label, n in per_model.items() if n}


def contact_erase(
    *,
    workspace: Workspace,
    contact_id: uuid.UUID | str,
    actor: Any = None,
    actor_label: str = "",
) -> dict[str, int]:
    """Erase a contact at their request: every row about them goes, in one transaction.

    Stored import files holding the number or email are deleted, row errors quoting them
    redacted. Only a salted hash of the number stays, in the suppression list, so the number is
    never messaged again even if it is imported anew. Raises NotFound for an unknown id
    or another workspace's contact. Audited as `contact.erased`, with the hash as target.
    Returns the rows deleted per model.
    """
    with transaction.atomic():
        contact = contact_get(workspace=workspace, contact_id=contact_id)
        hashed = phone_hash(workspace, contact.phone)
        Suppression.objects.get_or_create(
            workspace=workspace,
            phone_hash=hashed,
            defaults={"reason": SuppressionReason.ERASURE},
        )
        erased_id = str(contact.id)
        deleted = contacts_delete(Contact.objects.filter(pk=contact.pk))
        # What imports keep: files not yet imported, row errors quoting the number.
        deleted |= {
            name: n
            for name, n in imports_forget(
                workspace_id=workspace.id, phone=contact.phone, email=contact.email
            ).items()
            if n
        }
        audit_record(
            workspace=workspace,
            action=AuditAction.CONTACT_ERASED,
            actor=actor,
            actor_label=actor_label,
            target=hashed,
            details={"contact_id": erased_id, "deleted": deleted},
        )
    return deleted
