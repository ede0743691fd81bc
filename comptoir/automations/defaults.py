"""The rules a new workspace starts with: an optician's everyday messages, ready to edit.

Seeded when the workspace row is created (a post_save signal connected in the app's
ready()), so every way of creating a workspace (the CLI, the demo, the admin, a test)
gets them, once. The reminder names the letters to answer with: STOP, and CANCEL in
English, opt the customer out, so they cannot be the way to cancel an appointment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from comptoir.automations.models import (
    AutomationRule,
    DateAttribute,
    RuleChannel,
    RulePurpose,
    TriggerType,
)
from comptoir.automations.rules import rule_save
from comptoir.workspaces.models import Workspace


@dataclass(frozen=True)
class DefaultRule:
    key: str
    name: dict[str, str]
    trigger_type: str
    trigger: str
    templates: dict[str, str]
    offset_minutes: int = 0
    at_time: dt.time | None = None
    purpose: str = RulePurpose.SERVICE
    conditions: list[dict[str, Any]] = field(default_factory=list)


DEFAULT_RULES = (
    DefaultRule(
        key="booking_confirmation",
        name={"fr": "Confirmation de rendez-vous", "en": "Booking confirmation"},
        trigger_type=TriggerType.EVENT,
        trigger="appointment.booked",
        templates={
            "fr": "{shop} : votre rendez-vous du {date} à {time} est bien noté "
            "({place|en magasin}). À bientôt !",
            "en": "{shop}: your appointment on {date} at {time} is booked "
            "({place|in store}). See you soon!",
        },
    ),
    DefaultRule(
        key="appointment_reminder",
        name={"fr": "Rappel 24 h avant le rendez-vous", "en": "Reminder 24 h before"},
        trigger_type=TriggerType.DATE,
        trigger=DateAttribute.APPOINTMENT_START,
        offset_minutes=-24 * 60,
        templates={
            "fr": "{shop} : rappel de votre rendez-vous le {date} à {time} ({place|en magasin}). "
            "Répondez C pour confirmer, A pour annuler.",
            "en": "{shop}: reminder of your appointment on {date} at {time} ({place|in store}). "
            "Reply C to confirm, A to cancel.",
        },
    ),
    DefaultRule(
        key="order_ready",
        name={"fr": "Lunettes / commande prête", "en": "Glasses / order ready"},
        trigger_type=TriggerType.EVENT,
        trigger="order.ready",
        templates={
            "fr": "{shop} : bonne nouvelle, votre commande {order_number} est prête. "
            "Vous pouvez venir la chercher en magasin.",
            "en": "{shop}: good news, your order {order_number} is ready. "
            "You can pick it up in store.",
        },
    ),
    DefaultRule(
        key="birthday",
        name={"fr": "Anniversaire (10 h)", "en": "Birthday (10:00)"},
        trigger_type=TriggerType.DATE,
        trigger=DateAttribute.BIRTHDAY,
        at_time=dt.time(10, 0),
        purpose=RulePurpose.MARKETING,
        templates={
            "fr": "{shop} : joyeux anniversaire {first_name} ! Toute l'équipe vous souhaite "
            "une belle journée.",
            "en": "{shop}: happy birthday {first_name}! The whole team wishes you a lovely day.",
        },
    ),
    DefaultRule(
        key="purchase_survey",
        name={"fr": "Avis 2 jours après l'achat", "en": "Survey 2 days after a purchase"},
        trigger_type=TriggerType.EVENT,
        trigger="purchase.completed",
        offset_minutes=2 * 24 * 60,
        templates={
            "fr": "{shop} : merci pour votre achat ! De 1 à 5, quelle note nous donnez-vous ? "
            "Répondez simplement par un chiffre.",
            "en": "{shop}: thank you for your purchase! From 1 to 5, how would you rate us? "
            "Just reply with a number.",
        },
    ),
)


def rules_seed(workspace: Workspace) -> list[AutomationRule]:
    """The default rules, named in the workspace's language; those already there are kept."""
    have = set(
        AutomationRule.objects.for_workspace(workspace)
        .exclude(key="")
        .values_list("key", flat=True)
    )
    language = workspace.language if workspace.language in ("fr", "en") else "en"
    return [
        rule_save(
            workspace=workspace,
            key=default.key,
            name=default.name[language],
            trigger_type=default.trigger_type,
            trigger=default.trigger,
            offset_minutes=default.offset_minutes,
            at_time=default.at_time,
            templates=default.templates,
            purpose=default.purpose,
            conditions=default.conditions,
            channel=RuleChannel.PREFERRED,
        )
        for default in DEFAULT_RULES
        if default.key not in have
    ]


def seed_on_workspace_created(
    sender: type[Workspace], instance: Workspace, created: bool, **kwargs: Any
) -> None:
    """post_save of Workspace: a new workspace brings its default rules (not a fixture load)."""
    if created and not kwargs.get("raw"):
        rules_seed(instance)
