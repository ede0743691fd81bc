"""Checking escalation settings, and a rule's alert policy: what owners set, judged here.

Every refusal names its field (`escalate_after_minutes`, `team`, `staff_numbers.1`…).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from comptoir.alerts.models import (
    DEFAULT_ESCALATE_AFTER,
    DEFAULT_MAX_ATTEMPTS,
    AlertMedium,
    AlertPolicy,
)
from comptoir.automations.models import AutomationRule
from comptoir.contacts.phones import parse_phone
from comptoir.core.errors import NotFound, ValidationError
from comptoir.inbox.models import Team
from comptoir.messaging.templating import template_check
from comptoir.messaging.voice import voice_channels
from comptoir.workspaces.models import Workspace

MAX_ESCALATE_AFTER = 24 * 60  # a day: beyond it an alert is not urgent
MAX_ATTEMPTS = 5
MAX_STAFF_NUMBERS = 10
# What a staff message may say: the shop, the customer, the alert, how it went.
STAFF_VARIABLES = frozenset({"shop", "name", "phone", "alert", "attempts", "outcome"})


@dataclass
class Escalation:
    """Escalation settings as typed; `escalation_check` turns them into model values."""

    medium: str = AlertMedium.SMS
    escalate_after_minutes: int = DEFAULT_ESCALATE_AFTER
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    team: str = ""  # a team's id or name, "" for none
    staff_numbers: Sequence[str] = field(default_factory=list)
    staff_message: str = ""


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _team(workspace: Workspace, ref: str) -> Team | None:
    ref = (ref or "").strip()
    if not ref:
        return None
    teams = Team.objects.for_workspace(workspace)
    found = teams.filter(name__iexact=ref).first()
    team_id = _uuid(ref)
    if found is None and team_id is not None:
        found = teams.filter(id=team_id).first()
    if found is None:
        raise NotFound(_("No team %(team)r in this workspace.") % {"team": ref}, field="team")
    return found


def escalation_check(workspace: Workspace, wanted: Escalation) -> dict[str, Any]:
    """The model fields for these settings, or a ValidationError naming the field."""
    if wanted.medium not in AlertMedium.values:
        raise ValidationError(
            _("Unknown medium %(medium)r: use sms or voice.") % {"medium": wanted.medium},
            field="medium",
        )
    if wanted.medium == AlertMedium.VOICE and not voice_channels(workspace):
        raise ValidationError(
            _("This workspace has no channel that can place calls: use sms."), field="medium"
        )
    minutes = wanted.escalate_after_minutes
    if not isinstance(minutes, int) or not 1 <= minutes <= MAX_ESCALATE_AFTER:
        raise ValidationError(
            _("Wait between 1 and %(max)d minutes before following up.")
            % {"max": MAX_ESCALATE_AFTER},
            field="escalate_after_minutes",
        )
    attempts = wanted.max_attempts
    if not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS:
        raise ValidationError(
            _("Send 1 to %(max)d times before alerting staff.") % {"max": MAX_ATTEMPTS},
            field="max_attempts",
        )
    if len(wanted.staff_numbers) > MAX_STAFF_NUMBERS:
        raise ValidationError(
            _("At most %(n)d staff numbers.") % {"n": MAX_STAFF_NUMBERS}, field="staff_numbers"
        )
    numbers: list[str] = []
    for index, raw in enumerate(wanted.staff_numbers):
        phone = parse_phone(raw, region=workspace.region, field=f"staff_numbers.{index}")
        if phone.e164 not in numbers:
            numbers.append(phone.e164)
    message = (wanted.staff_message or "").strip()
    if message:
        template_check(message, STAFF_VARIABLES, field="staff_message")
    return {
        "medium": wanted.medium,
        "escalate_after_minutes": minutes,
        "max_attempts": attempts,
        "escalate_team": _team(workspace, wanted.team),
        "escalate_numbers": numbers,
        "staff_message": message,
    }


def rule_for_alerts(*, workspace: Workspace, rule_id: Any) -> AutomationRule:
    wanted = _uuid(str(rule_id))
    rules = AutomationRule.objects.for_workspace(workspace)
    rule = rules.filter(id=wanted).first() if wanted is not None else None
    if rule is None:
        raise NotFound(_("No such rule."), field="rule_id")
    return rule


def policy_get(*, workspace: Workspace, rule: AutomationRule) -> AlertPolicy | None:
    return (
        AlertPolicy.objects.for_workspace(workspace)
        .filter(rule=rule)
        .select_related("escalate_team")
        .first()
    )


def policy_save(
    *, workspace: Workspace, rule: AutomationRule, ack_required: bool, settings: Escalation
) -> AlertPolicy:
    """Set a rule's acknowledgement settings (created on first save); alerts already
    running keep the settings they started with."""
    values = escalation_check(workspace, settings)
    with transaction.atomic():
        policy, _created = AlertPolicy.objects.update_or_create(
            rule=rule, defaults={"workspace": workspace, "ack_required": ack_required, **values}
        )
    return policy


def policy_delete(*, workspace: Workspace, rule: AutomationRule) -> None:
    AlertPolicy.objects.for_workspace(workspace).filter(rule=rule).delete()


def policy_settings(policy: AlertPolicy | None) -> Escalation:
    """The settings of a policy as typed (the defaults for a rule without one)."""
    if policy is None:
        return Escalation()
    return Escalation(
        medium=policy.medium,
        escalate_after_minutes=policy.escalate_after_minutes,
        max_attempts=policy.max_attempts,
        team=policy.escalate_team.name if policy.escalate_team else "",
        staff_numbers=list(policy.escalate_numbers),
        staff_message=policy.staff_message,
    )
