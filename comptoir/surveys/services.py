"""Surveys: turning a rule into one, its settings checked, and the seeding of new workspaces."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from comptoir.automations.models import AutomationRule
from comptoir.core.errors import NotFound, ValidationError
from comptoir.messaging.templating import template_check
from comptoir.surveys.models import DEFAULT_LOW_SCORE, DEFAULT_REPLY_DAYS, Survey
from comptoir.workspaces.models import Workspace

SEEDED_RULE = "purchase_survey"
MAX_TEXT = 640
MAX_REPLY_DAYS = 14
OFFER_VARIABLES = frozenset({"first_name", "last_name", "shop"})
THANKS_VARIABLES = OFFER_VARIABLES | {"score"}


def _text(value: str, field: str, known: frozenset[str]) -> str:
    value = (value or "").strip()
    if len(value) > MAX_TEXT:
        raise ValidationError(_("At most %(n)d characters.") % {"n": MAX_TEXT}, field=field)
    template_check(value, known, field=field)
    return value


def survey_save(
    *,
    workspace: Workspace | Any,
    rule_id: Any,
    low_score: int = DEFAULT_LOW_SCORE,
    goodwill_offer: str = "",
    thanks: str = "",
    reply_days: int = DEFAULT_REPLY_DAYS,
) -> Survey:
    """Make a rule of the workspace a survey, or change its survey's settings.

    `low_score` 0-4 (0: no score is low), `reply_days` 1-30; the texts may use
    {first_name}, {last_name}, {shop} (and {score} in the thanks); an unknown variable
    is refused, naming it.
    """
    rule = AutomationRule.objects.for_workspace(workspace).filter(id=rule_id).first()
    if rule is None:
        raise NotFound(_("No such rule in this workspace."), field="rule_id")
    if not isinstance(low_score, int) or not 0 <= low_score <= 4:
        raise ValidationError(_("A low score is 0 to 4 (0: none)."), field="low_score")
    if not isinstance(reply_days, int) or not 1 <= reply_days <= MAX_REPLY_DAYS:
        raise ValidationError(
            _("Replies are read for 1 to %(n)d days.") % {"n": MAX_REPLY_DAYS},
            field="reply_days",
        )
    values = {
        "low_score": low_score,
        "goodwill_offer": _text(goodwill_offer, "goodwill_offer", OFFER_VARIABLES),
        "thanks": _text(thanks, "thanks", THANKS_VARIABLES),
        "reply_days": reply_days,
    }
    survey, _created = Survey.objects.update_or_create(
        rule=rule, defaults={"workspace_id": rule.workspace_id, **values}
    )
    return survey


def survey_remove(*, workspace: Workspace | Any, rule_id: Any) -> None:
    """The rule stops being a survey (its responses go with it); the rule stays."""
    deleted, _rows = Survey.objects.for_workspace(workspace).filter(rule_id=rule_id).delete()
    if not deleted:
        raise NotFound(_("This rule is not a survey."), field="rule_id")


def surveys_seed(workspace: Workspace) -> Survey | None:
    """The seeded purchase survey rule is a survey, with the default settings."""
    rule = AutomationRule.objects.for_workspace(workspace).filter(key=SEEDED_RULE).first()
    if rule is None:
        return None
    survey, _created = Survey.objects.get_or_create(rule=rule, defaults={"workspace": workspace})
    return survey


def seed_on_workspace_created(
    sender: type[Workspace], instance: Workspace, created: bool, **kwargs: Any
) -> None:
    """post_save of Workspace, after the rules are seeded (not for a fixture load)."""
    if created and not kwargs.get("raw"):
        surveys_seed(instance)
