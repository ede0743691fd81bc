"""Retention: customers who have not come to us for 3 years are purged or anonymised.

CNIL: prospects' and customers' data is kept 3 years from the last contact *coming from
them*. Here that is the latest of: the contact's creation, a purchase, a message they
sent, a visit (an appointment not cancelled), a consent event they gave (anything but an
import). Opening or receiving one of our messages does not count.

Candidates are found in one query (NOT EXISTS on each kind of activity, which the
database runs as anti-joins over the existing indexes), never a loop per contact.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import (
    CharField,
    DateTimeField,
    Exists,
    F,
    Max,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat, Greatest, Replace, Right
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.automations.models import Appointment, AppointmentStatus
from comptoir.compliance.audit import AuditAction, audit_record
from comptoir.compliance.gdpr import contacts_delete
from comptoir.compliance.models import ConsentEvent, ConsentSource
from comptoir.contacts.models import Contact, Purchase
from comptoir.core.errors import ValidationError
from comptoir.messaging.models import Direction, Message
from comptoir.workspaces.models import Workspace

log = logging.getLogger(__name__)

RETENTION_DAYS = 3 * 365
MODES = ("erase", "anonymise")
# An anonymised contact's phone: unique per contact, never a number, never purged again.
ANONYMOUS_PREFIX = "anon:"
BATCH = 1000  # contacts per transaction while purging


def retention_days(workspace: Workspace | None = None) -> int:
    """The workspace's `policy.retention_days`, else settings.COMPTOIR_RETENTION_DAYS, else
    RETENTION_DAYS (3 years: CNIL)."""
    own = (workspace.policy or {}).get("retention_days") if workspace is not None else None
    days = int(own or getattr(settings, "COMPTOIR_RETENTION_DAYS", None) or RETENTION_DAYS)
    if days < 1:
        raise ValueError("The retention period must be a positive number of days.")
    return days


def retention_mode(workspace: Workspace | None = None) -> str:
    """How the daily task purges: the workspace's `policy.retention_mode`, else
    settings.COMPTOIR_RETENTION_MODE, else "erase"."""
    own = (workspace.policy or {}).get("retention_mode") if workspace is not None else None
    return str(own or getattr(settings, "COMPTOIR_RETENTION_MODE", None) or "erase")


def retention_cutoff(
    now: dt.datetime | None = None, workspace: Workspace | None = None
) -> dt.datetime:
    """Activity before this instant is too old to keep a contact for."""
    return (now or timezone.now()) - dt.timedelta(days=retention_days(workspace))


def _activity(workspace: Workspace, cutoff: dt.datetime) -> dict[str, QuerySet[Any]]:
    """What counts as the customer coming to us, per kind, since `cutoff`."""
    contact = OuterRef("pk")
    # A purchase is dated in the shop's calendar.
    cutoff_day = cutoff.astimezone(workspace.tz).date()
    return {
        "purchase": Purchase.objects.filter(
            workspace=workspace, contact=contact, purchased_on__gte=cutoff_day
        ),
        "inbound": Message.objects.filter(
            workspace=workspace, contact=contact, direction=Direction.IN, created_at__gte=cutoff
        ),
        "consent": ConsentEvent.objects.filter(contact=contact, at__gte=cutoff).exclude(
            source=ConsentSource.IMPORT
        ),
        "visit": Appointment.objects.filter(
            workspace=workspace, contact=contact, starts_at__gte=cutoff
        ).exclude(status=AppointmentStatus.CANCELLED),
    }


def _latest(queryset: QuerySet[Any], field: str) -> Subquery:
    return Subquery(
        queryset.values("contact").annotate(latest=Max(field)).values("latest")[:1],
        output_field=DateTimeField(),
    )


def _inactive(workspace: Workspace, cutoff: dt.datetime) -> QuerySet[Contact]:
    candidates = (
        Contact.objects.for_workspace(workspace)
        .filter(created_at__lt=cutoff)
        .exclude(phone__startswith=ANONYMOUS_PREFIX)
    )
    for recent in _activity(workspace, cutoff).values():
        candidates = candidates.filter(~Exists(recent))
    return candidates


def retention_candidates(
    *, workspace: Workspace, now: dt.datetime | None = None
) -> QuerySet[Contact]:
    """The contacts a purge would take now (the dry-run list), oldest activity first.

    Each has `last_activity`, the latest thing that came from them.
    """
    candidates = _inactive(workspace, retention_cutoff(now, workspace))
    # Every activity is older than the cutoff: compare them all, for people to read.
    contact = OuterRef("pk")
    activity = [
        _latest(
            Purchase.objects.filter(contact=contact).annotate(
                on=Cast("purchased_on", DateTimeField())
            ),
            "on",
        ),
        _latest(Message.objects.filter(contact=contact, direction=Direction.IN), "created_at"),
        _latest(
            ConsentEvent.objects.filter(contact=contact).exclude(source=ConsentSource.IMPORT),
            "at",
        ),
        _latest(
            Appointment.objects.filter(contact=contact).exclude(status=AppointmentStatus.CANCELLED),
            "starts_at",
        ),
    ]
    # SQLite's MAX() of a NULL is NULL: each part falls back to the creation date.
    last = Greatest(F("created_at"), *(Coalesce(a, F("created_at")) for a in activity))
    return candidates.annotate(last_activity=last).order_by("last_activity", "id")


def _anonymise(ids: list[Any], now: dt.datetime) -> None:
    """Keep the contact's purchases for statistics, and nothing that says who they were."""
    # Messages quote the person and carry their number; consent and visits name them too.
    Message.objects.filter(contact_id__in=ids).delete()
    ConsentEvent.objects.filter(contact_id__in=ids).delete()
    Appointment.objects.filter(contact_id__in=ids).delete()
    hex_id = Replace(Cast("id", CharField()), Value("-"), Value(""))
    Contact.objects.filter(id__in=ids).update(
        phone=Concat(Value(ANONYMOUS_PREFIX), Right(hex_id, 15), output_field=CharField()),
        first_name="",
        last_name="",
        email="",
        birthday=None,
        attributes={},
        language="",
        timezone="",
        updated_at=now,
    )


def retention_purge(
    *,
    workspace: Workspace,
    now: dt.datetime | None = None,
    mode: str = "erase",
    dry_run: bool = False,
    actor: Any = None,
    actor_label: str = "",
) -> int:
    """Purge (mode "erase") or anonymise the retention candidates; returns how many.

    An erasure here adds no suppression entry: the customer did not ask never to hear
    from us, they were simply gone too long. A dry run changes nothing and is not
    audited; a real run writes one `retention.purged` entry, whatever the count.
    """
    if mode not in MODES:
        raise ValidationError(
            _("Unknown retention mode %(mode)r: use erase or anonymise.") % {"mode": mode},
            field="mode",
        )
    now = now or timezone.now()
    candidates = _inactive(workspace, retention_cutoff(now, workspace))
    if dry_run:
        return candidates.count()
    ids = list(candidates.values_list("id", flat=True))
    done = 0
    deleted: dict[str, int] = {}
    for start in range(0, len(ids), BATCH):
        with transaction.atomic():
            # Still a candidate: someone may have written to us since the list was made.
            batch = list(
                candidates.filter(id__in=ids[start : start + BATCH]).values_list("id", flat=True)
            )
            if mode == "erase":
                for label, n in contacts_delete(Contact.objects.filter(id__in=batch)).items():
                    deleted[label] = deleted.get(label, 0) + n
            else:
                _anonymise(batch, now)
            done += len(batch)
    audit_record(
        workspace=workspace,
        action=AuditAction.RETENTION_PURGED,
        actor=actor,
        actor_label=actor_label or ("" if actor is not None else "system: retention"),
        details={
            "count": done,
            "mode": mode,
            "retention_days": retention_days(workspace),
            "cutoff": retention_cutoff(now, workspace),
            "deleted": deleted,
        },
    )
    return done


def retention_purge_all(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The daily run: every workspace, each on its own, so one failure stops no other."""
    done: dict[str, int] = {}
    for workspace in Workspace.objects.order_by("created_at"):
        try:
            mode = retention_mode(workspace)
            done[str(workspace.id)] = retention_purge(workspace=workspace, now=now, mode=mode)
        except Exception:
            log.exception("retention purge failed for workspace %s", workspace.id)
    return done
