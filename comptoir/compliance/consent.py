"""Recording consent and reading its current state (the latest event wins)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from comptoir.compliance.models import ConsentAction, ConsentEvent, ConsentPurpose
from comptoir.contacts.models import Contact


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
) -> list[ConsentEvent]:
    """Append one event per purpose; nothing earlier is changed."""
    at = at or timezone.now()
    return ConsentEvent.objects.bulk_create(
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


def consent_state(contact_ids: Iterable[uuid.UUID]) -> dict[tuple[uuid.UUID, str], str]:
    """(contact id, purpose) -> the latest action, in one query for any number of contacts.

    Events at the same instant are ordered by their insertion (id), so a grant and a
    revocation in the same second resolve the same way every time: the later one wins.
    """
    state: dict[tuple[uuid.UUID, str], str] = {}
    rows = (
        ConsentEvent.objects.filter(contact_id__in=list(contact_ids))
        .order_by("at", "id")
        .values_list("contact_id", "purpose", "action")
    )
    for contact_id, purpose, action in rows.iterator(chunk_size=5000):
        state[(contact_id, purpose)] = action
    return state


def opted_out(contact: Contact) -> bool:
    state = consent_state([contact.id])
    return any(
        state.get((contact.id, p)) == ConsentAction.REVOKED for p in ConsentPurpose.values
    )
