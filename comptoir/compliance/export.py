"""The right of access (GDPR art. 15): everything held on one contact, as a zip.

contact.json holds it all; a CSV file per list opens in a spreadsheet, where no cell
written by anyone runs as a formula. The erasure (art. 17) is in `gdpr.py`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Prefetch
from django.utils import timezone

from comptoir.automations.models import Appointment, CustomerEvent
from comptoir.compliance.audit import AuditAction, actor_label_for, audit_record
from comptoir.compliance.gdpr import consent_history, contact_get
from comptoir.compliance.models import AuditEntry
from comptoir.contacts.models import Contact, Purchase
from comptoir.inbox.models import ConversationEvent
from comptoir.messaging.models import Message, MessageTransition
from comptoir.workspaces.models import Workspace

# Every column of the contact, so a field added later is exported too.
CONTACT_FIELDS = tuple(f.attname for f in Contact._meta.concrete_fields if f.name != "workspace")
PURCHASE_FIELDS = (
    "id",
    "purchased_on",
    "amount",
    "product_type",
    "material",
    "brand",
    "store",
    "created_at",
)
APPOINTMENT_FIELDS = ("id", "starts_at", "place", "service", "status", "external_id", "created_at")
MESSAGE_FIELDS = (
    "id",
    "direction",
    "address",
    "body",
    "purpose",
    "kind",
    "status",
    "send_at",
    "created_at",
    "sent_at",
    "delivered_at",
    "failed_at",
    "error_code",
    "error_reason",
    "segments",
)
CONSENT_FIELDS = ("id", "purpose", "channel", "action", "source", "at", "actor_label", "proof")
EVENT_FIELDS = ("id", "type", "external_id", "occurred_at", "data")
# Staff notes about the person are personal data too: the right of access covers them.
CONVERSATION_FIELDS = ("id", "kind", "at", "author_name", "body", "data")


def _row(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in fields}


# A spreadsheet runs a cell starting with = + - @ as a formula: a message text written by
# anyone must not. Numbers and phone numbers are left as they are.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[\d .]+")


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_START)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def _csv(rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in fields])
    return out.getvalue()


def contact_export(
    *,
    workspace: Workspace,
    contact_id: uuid.UUID | str,
    actor: Any = None,
    actor_label: str = "",
) -> bytes:
    """Everything held on one contact, as a zip: contact.json plus a CSV file per list.

    contact.json holds the contact with its tags, purchases, appointments, messages with
    their history, consent events and the audit entries about them. Raises NotFound for
    an unknown id or another workspace's contact. Audited as `contact.exported`.
    """
    contact = contact_get(workspace=workspace, contact_id=contact_id)
    transitions = MessageTransition.objects.order_by("at", "id")
    messages = list(
        Message.objects.for_workspace(workspace)
        .filter(contact=contact)
        .order_by("created_at", "id")
        .prefetch_related(Prefetch("transitions", queryset=transitions))
    )
    purchases = [
        _row(p, PURCHASE_FIELDS)
        for p in Purchase.objects.for_workspace(workspace)
        .filter(contact=contact)
        .order_by("purchased_on", "id")
    ]
    appointments = [
        _row(a, APPOINTMENT_FIELDS)
        for a in Appointment.objects.for_workspace(workspace)
        .filter(contact=contact)
        .order_by("starts_at", "id")
    ]
    consents = [_row(e, CONSENT_FIELDS) for e in consent_history(contact=contact)]
    events = [
        _row(e, EVENT_FIELDS)
        for e in CustomerEvent.objects.for_workspace(workspace)
        .filter(contact=contact)
        .order_by("occurred_at", "id")
    ]
    conversation = [
        {**_row(e, ("id", "kind", "at", "body", "data")), "author_name": actor_label_for(e.author)}
        for e in ConversationEvent.objects.filter(
            conversation__workspace=workspace, conversation__contact=contact
        )
        .select_related("author")
        .order_by("at", "id")
    ]
    audit = list(
        AuditEntry.objects.for_workspace(workspace)
        .filter(target=str(contact.id))
        .order_by("at", "id")
        .values("at", "action", "actor_label")
    )
    message_rows = [_row(m, MESSAGE_FIELDS) for m in messages]
    data = {
        "exported_at": timezone.now(),
        "workspace": {"id": workspace.id, "name": workspace.name},
        "contact": {
            **_row(contact, CONTACT_FIELDS),
            "tags": sorted(t.name for t in contact.tags.all()),
        },
        "purchases": purchases,
        "appointments": appointments,
        "messages": [
            {
                **row,
                "transitions": [
                    _row(t, ("status", "at", "code", "reason")) for t in m.transitions.all()
                ],
            }
            for m, row in zip(messages, message_rows, strict=True)
        ],
        "consent": consents,
        "events": events,
        "conversation_events": conversation,
        "audit": audit,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        text = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        archive.writestr("contact.json", text)
        archive.writestr("messages.csv", _csv(message_rows, MESSAGE_FIELDS))
        archive.writestr("purchases.csv", _csv(purchases, PURCHASE_FIELDS))
        archive.writestr("appointments.csv", _csv(appointments, APPOINTMENT_FIELDS))
        archive.writestr("consent.csv", _csv(consents, CONSENT_FIELDS))
        archive.writestr("events.csv", _csv(events, EVENT_FIELDS))
        archive.writestr("conversation_events.csv", _csv(conversation, CONVERSATION_FIELDS))
    audit_record(
        workspace=workspace,
        action=AuditAction.CONTACT_EXPORTED,
        actor=actor,
        actor_label=actor_label,
        target=str(contact.id),
        details={
            "messages": len(messages),
            "purchases": len(purchases),
            "appointments": len(appointments),
            "consent_events": len(consents),
            "events": len(events),
            "conversation_events": len(conversation),
        },
    )
    return buffer.getvalue()
