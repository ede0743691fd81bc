"""Recording consent and reading its current state (the latest event wins)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.utils import timezone

from comptoir.compliance.audit import AuditAction, audit_record
from comptoir.compliance.models import (
    ConsentAction,
    ConsentEvent,
    ConsentPurpose,
    ConsentSource,
)
from comptoir.contacts.models import Contact
from comptoir.core.bulk import key_of, keys_in, uuid_keys


def consent_record(
    *,
    contact: Contact,
    purposes: Iterable[str],
    action: str,
    source: str,
    proof: dict[str, Any] | None = None,
    actor: Any = None,
    channel: str = "sms",
    at: dt.datetime | None = None,
    actor_label: str = "",
) -> list[ConsentEvent]:
    """Append one event per purpose, and one audit entry; nothing earlier is changed.

    `actor_label` says who in words when there is no staff user ("api key cpt_ab12…");
    by default the source ("customer (keyword)", "import"…).
    """
    at = at or timezone.now()
    events = ConsentEvent.objects.bulk_create(
        ConsentEvent(
            workspace_id=contact.workspace_id,
            contact=contact,
            purpose=ConsentPurpose(purpose),
            channel=channel,
            action=ConsentAction(action),
            source=source,
            at=at,
            actor=actor,
            proof=proof or {},
        )
        for purpose in purposes
    )
    audit_record(
        workspace=contact.workspace_id,
        action=AuditAction.CONSENT_RECORDED,
        actor=actor,
        actor_label=actor_label or ("" if actor is not None else SOURCE_LABELS.get(source, source)),
        target=str(contact.id),
        # The proof stays on the event: it may quote the customer's own text.
        details={
            "events": [e.id for e in events],
            "purposes": [e.purpose for e in events],
            "action": str(action),
            "source": str(source),
            "channel": channel,
        },
    )
    return events


# Who recorded a consent event when no staff user did.
SOURCE_LABELS: dict[str, str] = {
    ConsentSource.KEYWORD: "customer (keyword)",
    ConsentSource.FORM: "web form",
    ConsentSource.IMPORT: "import",
    ConsentSource.API: "api",
    ConsentSource.PROVIDER: "provider",
    ConsentSource.STAFF: "staff",
    ConsentSource.EMAIL_UNSUBSCRIBE: "customer (email unsubscribe link)",
}

# Consent is kept per family of channels (ePrivacy: consent per means of contact). Texts
# and calls reach the same phone and share theirs, as a STOP has always meant; email has
# its own, granted for email and revoked by its unsubscribe link.
PHONE_SCOPE = "phone"
EMAIL_SCOPE = "email"


def consent_scope(channel: str) -> str:
    """The family a channel (or a channel's scheme) belongs to for consent."""
    return EMAIL_SCOPE if channel == "email" else PHONE_SCOPE


def consent_state(
    contact_ids: Iterable[uuid.UUID], *, scope: str | None = None
) -> dict[tuple[uuid.UUID, str], str]:
    """(contact id, purpose) -> the latest action, in one query for any number of contacts.

    Events at the same instant are ordered by their insertion (id), so a grant and a
    revocation in the same second resolve the same way every time: the later one wins.
    With `scope` ("phone" or "email"), only the events of that family of channels count.
    """
    ids = list(contact_ids)
    keys = uuid_keys(ids)
    back = dict(zip(keys, ids, strict=True))
    return {(back[k], p): action for (k, p), action in consent_latest(keys, scope=scope).items()}


def consent_latest(keys: Sequence[str], *, scope: str | None = None) -> dict[tuple[str, str], str]:
    """`consent_state` for contacts given by `uuid_keys`, keyed the same way: what the
    policy uses for a whole audience (no UUID object is built or hashed per row)."""
    state: dict[tuple[str, str], str] = {}
    if not keys:
        return state
    # Plain SQL: on an audience of 100,000 the ORM's per-row work costs more than the query.
    table = connection.ops.quote_name(ConsentEvent._meta.db_table)
    where, params = keys_in("contact_id", keys)
    if scope is not None:
        where += " AND channel = %s" if scope == EMAIL_SCOPE else " AND channel <> %s"
        params = [*params, "email"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {key_of('contact_id')}, purpose, action FROM {table} "  # noqa: S608 - names from the model
            f"WHERE {where} ORDER BY at, id",
            params,
        )
        for key, purpose, action in cursor.fetchall():
            state[(key, purpose)] = action
    return state


def opted_out(contact: Contact, *, scope: str = PHONE_SCOPE) -> bool:
    """Whether the contact revoked any purpose on this family of channels (texts by default)."""
    state = consent_state([contact.id], scope=scope)
    return any(state.get((contact.id, p)) == ConsentAction.REVOKED for p in ConsentPurpose.values)
