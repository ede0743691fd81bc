"""Consent answers of an import turned into consent events, written once.

An answer is written only when it changes the customer's current state: a "yes" with
nothing on record grants, a "no" revokes a grant. It never re-grants what was revoked (a
STOP by text outlives any export) or what the suppression list holds (an erased number:
`rule_suppressed`, the rule that also stops sending to it); those are noted on the job.
Each event's proof names the file, its sha256, the line, the column and the cell.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.compliance.audit import AuditAction, audit_record
from comptoir.compliance.consent import EMAIL_SCOPE, PHONE_SCOPE, consent_scope, consent_state
from comptoir.compliance.decisions import Candidate
from comptoir.compliance.gdpr import rule_suppressed
from comptoir.compliance.models import ConsentAction, ConsentEvent, ConsentPurpose, ConsentSource
from comptoir.core.bulk import insert_rows
from comptoir.imports.models import ImportJob
from comptoir.imports.validate import Checked, ContactRecord
from comptoir.workspaces.models import Workspace

# Contacts per consent_state query (SQLite takes at most 32,766 parameters).
CHUNK = 5000
EVENT_COLUMNS = (
    "workspace_id",
    "contact_id",
    "purpose",
    "channel",
    "action",
    "source",
    "at",
    "actor_id",
    "proof",
)


def _consent_states(contact_ids: list[uuid.UUID]) -> dict[str, dict[uuid.UUID, str]]:
    """Current marketing consent per family of channels: scope -> contact id -> action."""
    states: dict[str, dict[uuid.UUID, str]] = {PHONE_SCOPE: {}, EMAIL_SCOPE: {}}
    for scope, found in states.items():
        for start in range(0, len(contact_ids), CHUNK):
            chunk = contact_ids[start : start + CHUNK]
            for (contact_id, purpose), action in consent_state(chunk, scope=scope).items():
                if purpose == ConsentPurpose.MARKETING:
                    found[contact_id] = action
    return states


def _erased(workspace: Workspace, records: list[ContactRecord]) -> set[str]:
    """Numbers on the suppression list, asked of the rule that stops sending to them."""
    candidates = [
        Candidate(
            key=r.phone,
            scheme="tel",
            number_type=r.number_type,
            purpose="marketing",
            phone=r.phone,
            workspace_id=workspace.id,
        )
        for r in records
    ]
    return set(rule_suppressed(candidates))  # keyed by the candidates' keys: the numbers


def consent_write(
    *,
    workspace: Workspace,
    job: ImportJob,
    checked: Checked,
    ids: dict[str, Any],
    summary: Counter[str],
    notes: list[dict[str, Any]],
    actor: Any,
    actor_label: str,
) -> None:
    """Record the file's consent answers that change something, as one batch of events
    and one audit entry; counts go to `summary`, answers deliberately left to `notes`."""
    answering = [r for r in checked.contacts.values() if r.consent and r.phone in ids]
    if not answering:
        return
    states = _consent_states([ids[r.phone] for r in answering])
    erased = _erased(
        workspace, [r for r in answering if any(a.granted for a in r.consent.values())]
    )
    now = timezone.now()
    actor_id = getattr(actor, "pk", None)
    rows = []
    for record in answering:
        contact_id = ids[record.phone]
        for channel, answer in record.consent.items():
            current = states[consent_scope(channel)].get(contact_id)
            if answer.granted and current == ConsentAction.GRANTED:
                continue
            if not answer.granted and current != ConsentAction.GRANTED:
                continue  # no consent on record and a "no": there is nothing to revoke
            reason = ""
            if answer.granted and record.phone in erased:
                reason = _("This number was erased at the customer's request: consent not revived.")
            elif answer.granted and current == ConsentAction.REVOKED:
                reason = _(
                    "The customer withdrew this consent; an import does not grant it again "
                    "(they can text START)."
                )
            if reason:
                summary["consent_not_recorded"] += 1
                notes.append({"row": answer.line, "column": answer.column, "reason": reason})
                continue
            action = ConsentAction.GRANTED if answer.granted else ConsentAction.REVOKED
            summary[f"consent_{action}"] += 1
            proof = {
                "file": job.file_name,
                "sha256": job.file_sha256,
                "row": answer.line,
                "column": answer.column,
                "value": answer.value,
                "import_job": str(job.id),
            }
            rows.append(
                (
                    workspace.id,
                    contact_id,
                    ConsentPurpose.MARKETING.value,
                    channel,
                    action.value,
                    ConsentSource.IMPORT.value,
                    now,
                    actor_id,
                    proof,
                )
            )
    if not rows:
        return
    insert_rows(ConsentEvent, EVENT_COLUMNS, rows)
    # One entry for the whole file (the events carry their own proof, row by row).
    audit_record(
        workspace=workspace,
        action=AuditAction.CONSENT_RECORDED,
        actor=actor,
        actor_label=actor_label or ("" if actor is not None else "import"),
        target=f"import:{job.id}",
        details={
            "import_job": str(job.id),
            "file_sha256": job.file_sha256,
            "granted": summary["consent_granted"],
            "revoked": summary["consent_revoked"],
            "source": ConsentSource.IMPORT.value,
        },
    )
