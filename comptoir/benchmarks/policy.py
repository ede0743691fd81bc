"""Compliance decisions for a whole audience: consent, opt-out, window, holidays, cap."""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections import Counter

from django.utils import timezone

from comptoir.compliance.models import ConsentEvent
from comptoir.compliance.policy import Candidate, Context, refusals
from comptoir.contacts.models import Contact
from comptoir.contacts.services import CONTACT_COLUMNS, contact_row
from comptoir.core.bulk import insert_objects, insert_rows
from comptoir.core.ids import uuid7
from comptoir.messaging.models import Message
from comptoir.messaging.outbox import default_channel
from comptoir.workspaces.models import Workspace
from comptoir.workspaces.services import workspace_create


def _audience(workspace: Workspace, size: int) -> list[tuple[uuid.UUID, str]]:
    """Contacts, 85 % with marketing consent, 5 % opted out, 10 % messaged this month."""
    rng = random.Random(3)
    now = timezone.now()
    contacts = [(uuid7(), f"+336{i:08d}") for i in range(size)]
    insert_rows(
        Contact,
        CONTACT_COLUMNS,
        [
            contact_row(
                contact_id=cid,
                workspace_id=workspace.id,
                phone=phone,
                number_type="mobile",
                now=now,
                is_prospect=False,
            )
            for cid, phone in contacts
        ],
    )
    consent: list[tuple[object, ...]] = []
    for cid, _ in contacts:
        roll = rng.random()
        if roll < 0.85:
            consent.append((workspace.id, cid, "marketing", "sms", "granted", "import", now, {}))
        if roll > 0.95:
            consent.append((workspace.id, cid, "marketing", "sms", "revoked", "keyword", now, {}))
    insert_rows(
        ConsentEvent,
        ("workspace_id", "contact_id", "purpose", "channel", "action", "source", "at", "proof"),
        consent,
    )
    channel = default_channel(workspace)
    recent = [
        Message(
            id=uuid7(),
            workspace=workspace,
            channel=channel,
            contact_id=cid,
            address=phone,
            body="Promo",
            purpose="marketing",
            priority=2,
            status="delivered",
            send_at=now,
        )
        for cid, phone in contacts
        if rng.random() < 0.10
    ]
    insert_objects(recent)
    return contacts


def run(*, recipients: int, rounds: int) -> tuple[float, Counter[str]]:
    """Median seconds for one decision over the whole audience, and the outcome counts."""
    workspace = workspace_create(name=f"Policy benchmark {time.strftime('%H:%M:%S')}")
    try:
        contacts = _audience(workspace, recipients)
        candidates = [
            Candidate(
                key=i,
                scheme="sms",
                number_type="mobile",
                purpose="marketing",
                contact_id=cid,
                phone=phone,
                workspace_id=workspace.id,
            )
            for i, (cid, phone) in enumerate(contacts)
        ]
        figures = []
        for _ in range(rounds):
            start = time.perf_counter()
            found = refusals(candidates, Context(workspace=workspace, stage="create"))
            figures.append(time.perf_counter() - start)
        outcomes = Counter(r.code for r in found.values())
        outcomes["may go now"] = recipients - len(found)
        return statistics.median(figures), outcomes
    finally:
        Message.objects.filter(workspace=workspace).delete()
        workspace.delete()
