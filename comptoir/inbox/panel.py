"""What staff see about a conversation besides its thread: its score, and who is writing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.automations.models import Appointment, AppointmentStatus
from comptoir.contacts.models import Contact, Purchase
from comptoir.inbox.models import Conversation, TeamMember
from comptoir.inbox.priority import conversation_parts


@dataclass(frozen=True)
class Row:
    conversation: Conversation
    score: int
    reasons: str


@dataclass(frozen=True)
class Panel:
    """Who is writing: the customer's details, or a team's members."""

    contact: Contact | None
    tags: list[str]
    purchases: list[Purchase]
    appointment: Appointment | None
    members: list[Contact]


def conversation_row(conversation: Conversation, now: Any) -> Row:
    parts = conversation_parts(conversation, now)
    score = sum(p.points for p in parts)
    labels = (f"{p.label} +{p.points}" if p.points else p.label for p in parts)
    reasons = "; ".join(labels) or _("nothing waiting")
    return Row(
        conversation,
        score,
        _("Score %(score)d: %(reasons)s") % {"score": score, "reasons": reasons},
    )


def contact_panel(conversation: Conversation) -> Panel:
    """Tags, the last 3 purchases and the next appointment: three queries, whatever the history."""
    contact, workspace = conversation.contact, conversation.workspace
    if contact is None:
        members = []
        if conversation.team_id:
            members = [
                m.contact
                for m in TeamMember.objects.filter(team_id=conversation.team_id)
                .select_related("contact")
                .order_by("contact__first_name", "contact__phone")
            ]
        return Panel(None, [], [], None, members)
    purchases = (
        Purchase.objects.for_workspace(workspace)
        .filter(contact=contact)
        .order_by("-purchased_on", "-created_at")[:3]
    )
    appointment = (
        Appointment.objects.for_workspace(workspace)
        .filter(contact=contact, starts_at__gt=timezone.now())
        .exclude(status=AppointmentStatus.CANCELLED)
        .order_by("starts_at")
        .first()
    )
    tags = sorted(contact.tags.values_list("name", flat=True))
    return Panel(contact, tags, list(purchases), appointment, [])
