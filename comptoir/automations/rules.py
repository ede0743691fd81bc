"""Automation rules: what they may say (variables), when (offsets), to whom (conditions).

Everything a rule holds is checked when it is saved, naming the field, so a rule that
is stored can always be sent: an unknown variable in a template is refused here, not
discovered at 10:00 on a customer's birthday.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from comptoir.automations.models import (
    AutomationRule,
    DateAttribute,
    RuleChannel,
    RulePurpose,
    TriggerType,
)
from comptoir.automations.services import EVENT_TYPE
from comptoir.contacts.models import Contact
from comptoir.core.errors import Conflict, NotFound, ValidationError
from comptoir.messaging.templating import template_check
from comptoir.workspaces.models import Workspace

# The event types Comptoir knows; any other well-formed type is a custom one.
KNOWN_EVENTS = (
    "appointment.booked",
    "appointment.updated",
    "appointment.cancelled",
    "order.ready",
    "order.confirmed",
    "order.shipped",
    "purchase.completed",
    "contact.signed_up",
)

COMMON_VARIABLES = frozenset({"first_name", "last_name", "shop"})
APPOINTMENT_VARIABLES = frozenset({"date", "time", "place", "service"})
ORDER_VARIABLES = frozenset({"order_number", "amount", "place"})


def variables_for(trigger_type: str, trigger: str) -> frozenset[str]:
    """The variables a rule's templates may use, by what triggers it."""
    if trigger_type == TriggerType.DATE:
        if trigger == DateAttribute.APPOINTMENT_START:
            return COMMON_VARIABLES | APPOINTMENT_VARIABLES
        return COMMON_VARIABLES
    if trigger.startswith("appointment."):
        return COMMON_VARIABLES | APPOINTMENT_VARIABLES
    if trigger.startswith(("order.", "purchase.")):
        return COMMON_VARIABLES | ORDER_VARIABLES
    return COMMON_VARIABLES


# -- offsets -----------------------------------------------------------------------------

_OFFSET = re.compile(r"\A([+-]?)\s*(\d{1,5})\s*(m|min|h|d|j)?\Z")
_UNIT_MINUTES = {"m": 1, "min": 1, "h": 60, "d": 1440, "j": 1440}
MAX_OFFSET_MINUTES = 366 * 1440


def offset_parse(text: str, *, field: str = "offset") -> int:
    """'-24h', '+2 h', '+2d', '30m', '0' -> minutes (negative: before the date)."""
    normal = text.strip().lower().replace("\u2212", "-").replace(" ", "")  # U+2212: a typed minus
    found = _OFFSET.match(normal)
    if not found:
        raise ValidationError(
            _("%(text)r is not an offset: write -24h, +2h, +2d or +30m.") % {"text": text},
            field=field,
        )
    sign, number, unit = found.groups()
    minutes = int(number) * _UNIT_MINUTES[unit or "m"] * (-1 if sign == "-" else 1)
    if abs(minutes) > MAX_OFFSET_MINUTES:
        raise ValidationError(_("An offset is at most a year."), field=field)
    return minutes


def offset_format(minutes: int) -> str:
    """Minutes as the rules page writes them: '-24h', '+2d', '+90m', '0'."""
    if minutes == 0:
        return "0"
    sign = "-" if minutes < 0 else "+"
    size = abs(minutes)
    for unit, length in (("d", 1440), ("h", 60)):
        if size % length == 0:
            return f"{sign}{size // length}{unit}"
    return f"{sign}{size}m"


# -- conditions --------------------------------------------------------------------------

CONTACT_FIELDS = ("language", "preferred_channel", "number_type", "is_prospect")
OPERATORS = ("eq", "ne", "in", "exists", "missing", "has_tag")


def _condition_clean(index: int, raw: Any) -> dict[str, Any]:
    field = f"conditions.{index}"
    if not isinstance(raw, Mapping):
        raise ValidationError(
            _('A condition is an object: {"attribute": "language", "op": "eq", "value": "fr"}.'),
            field=field,
        )
    op = str(raw.get("op", "eq"))
    if op not in OPERATORS:
        raise ValidationError(
            _("Unknown operator %(op)r: use one of %(ops)s.")
            % {"op": op, "ops": ", ".join(OPERATORS)},
            field=f"{field}.op",
        )
    value = raw.get("value")
    if op == "has_tag":
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(_("Name the tag."), field=f"{field}.value")
        return {"op": op, "value": value.strip()}
    attribute = str(raw.get("attribute", "")).strip()
    custom = attribute.startswith("attributes.") and len(attribute) > len("attributes.")
    if attribute not in CONTACT_FIELDS and not custom:
        raise ValidationError(
            _("Unknown attribute %(name)r: use %(fields)s or attributes.<name>.")
            % {"name": attribute, "fields": ", ".join(CONTACT_FIELDS)},
            field=f"{field}.attribute",
        )
    if op == "in" and not (isinstance(value, list) and value):
        raise ValidationError(_("“in” needs a list of values."), field=f"{field}.value")
    if op in ("eq", "ne") and (value is None or isinstance(value, list | dict)):
        raise ValidationError(_("Give one value to compare with."), field=f"{field}.value")
    clean: dict[str, Any] = {"attribute": attribute, "op": op}
    if op not in ("exists", "missing"):
        clean["value"] = value
    return clean


def conditions_clean(raw: Any) -> list[dict[str, Any]]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise ValidationError(_("Conditions are a list."), field="conditions")
    return [_condition_clean(i, c) for i, c in enumerate(raw)]


def _attribute(contact: Contact, name: str) -> Any:
    if name.startswith("attributes."):
        return (contact.attributes or {}).get(name.removeprefix("attributes."))
    return getattr(contact, name)


def conditions_hold(
    conditions: Sequence[Mapping[str, Any]], contact: Contact, tags: set[str]
) -> bool:
    """Whether every condition holds for the contact (`tags`: its tag names, lower case)."""
    for condition in conditions:
        op = condition["op"]
        if op == "has_tag":
            if str(condition["value"]).lower() not in tags:
                return False
            continue
        value = _attribute(contact, condition["attribute"])
        wanted = condition.get("value")
        present = value not in (None, "")
        if (op == "exists" and not present) or (op == "missing" and present):
            return False
        if (op == "eq" and str(value) != str(wanted)) or (op == "ne" and str(value) == str(wanted)):
            return False
        if op == "in" and str(value) not in {str(v) for v in wanted or ()}:
            return False
    return True


# -- saving ------------------------------------------------------------------------------


def _trigger_clean(trigger_type: str, trigger: str) -> tuple[str, str]:
    if trigger_type not in TriggerType.values:
        raise ValidationError(
            _("The trigger type is “event” or “date”, not %(value)r.") % {"value": trigger_type},
            field="trigger_type",
        )
    trigger = (trigger or "").strip()
    if trigger_type == TriggerType.DATE:
        if trigger not in DateAttribute.values:
            raise ValidationError(
                _("A date trigger is one of %(choices)s, not %(value)r.")
                % {"choices": ", ".join(DateAttribute.values), "value": trigger},
                field="trigger",
            )
        return trigger_type, trigger
    if not EVENT_TYPE.match(trigger) or len(trigger) > 64:
        raise ValidationError(
            _("%(value)r is not an event type: use lower-case words joined by dots.")
            % {"value": trigger},
            field="trigger",
        )
    return trigger_type, trigger


def _templates_clean(raw: Any, known: frozenset[str]) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not raw:
        raise ValidationError(
            _('Give at least one template, by language: {"fr": "…", "en": "…"}.'),
            field="templates",
        )
    clean: dict[str, str] = {}
    for language, text in raw.items():
        language = str(language).strip().lower()
        field = f"templates.{language}"
        if not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{2,8})?", language):
            raise ValidationError(
                _("%(lang)r is not a language code like fr or en.") % {"lang": language},
                field="templates",
            )
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(_("The template is empty."), field=field)
        if len(text) > 1600:
            raise ValidationError(_("A template is at most 1,600 characters."), field=field)
        template_check(text, known, field=field)
        clean[language] = text.strip()
    return clean


def _at_time_clean(value: Any) -> dt.time | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    try:
        return dt.time.fromisoformat(str(value)).replace(second=0, microsecond=0)
    except ValueError:
        raise ValidationError(
            _("%(value)r is not a time of day like 10:00.") % {"value": value}, field="at_time"
        ) from None


FALLBACK_CHANNELS = ("sms", "voice", "email")
# A service message should reach the customer somehow; marketing stays on its channel.
DEFAULT_FALLBACK: dict[str, list[str]] = {"service": ["sms", "voice", "email"], "marketing": []}


def fallback_clean(raw: Any, purpose: str) -> list[str]:
    """The rule's fallback chain: None gives the purpose's default; a list is checked."""
    if raw is None:
        return list(DEFAULT_FALLBACK.get(purpose, []))
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list | tuple):
        raise ValidationError(
            _('The fallback is a list of channels, e.g. ["sms", "voice", "email"].'),
            field="fallback",
        )
    chain: list[str] = []
    for index, value in enumerate(raw):
        if value not in FALLBACK_CHANNELS:
            raise ValidationError(
                _("%(value)r is not a channel: use %(choices)s.")
                % {"value": value, "choices": ", ".join(FALLBACK_CHANNELS)},
                field=f"fallback.{index}",
            )
        if value in chain:
            raise ValidationError(
                _("%(value)s is twice in the fallback.") % {"value": value},
                field=f"fallback.{index}",
            )
        chain.append(value)
    return chain


def rule_save(
    *,
    workspace: Workspace,
    name: str,
    trigger_type: str,
    trigger: str,
    templates: Mapping[str, str],
    offset_minutes: int = 0,
    at_time: dt.time | str | None = None,
    conditions: Any = None,
    purpose: str = RulePurpose.SERVICE,
    channel: str = RuleChannel.PREFERRED,
    enabled: bool = True,
    key: str = "",
    rule: AutomationRule | None = None,
    fallback: Any = None,
) -> AutomationRule:
    """Create (or, given `rule`, replace) a rule, every field checked, the field named.

    `fallback` None gives the purpose's default chain (service: sms, voice, email;
    marketing: none)."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationError(_("A rule needs a name of at most 120 characters."), field="name")
    trigger_type, trigger = _trigger_clean(trigger_type, trigger)
    if abs(offset_minutes) > MAX_OFFSET_MINUTES:
        raise ValidationError(_("An offset is at most a year."), field="offset")
    if purpose not in RulePurpose.values:
        raise ValidationError(
            _("The purpose is “service” or “marketing”, not %(value)r.") % {"value": purpose},
            field="purpose",
        )
    if channel not in RuleChannel.values:
        raise ValidationError(
            _("The channel is one of %(choices)s, not %(value)r.")
            % {"choices": ", ".join(RuleChannel.values), "value": channel},
            field="channel",
        )
    values: dict[str, Any] = {
        "name": name,
        "trigger_type": trigger_type,
        "trigger": trigger,
        "offset_minutes": int(offset_minutes),
        "at_time": _at_time_clean(at_time),
        "conditions": conditions_clean(conditions),
        "templates": _templates_clean(templates, variables_for(trigger_type, trigger)),
        "purpose": purpose,
        "channel": channel,
        "enabled": bool(enabled),
        "fallback": fallback_clean(fallback, purpose),
    }
    if rule is None:
        rule = AutomationRule(workspace=workspace, key=key)
    elif rule.workspace_id != workspace.id:
        raise NotFound(_("No such rule."), field="rule_id")
    for attribute, value in values.items():
        setattr(rule, attribute, value)
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise Conflict(_("This workspace already has a rule %(key)r.") % {"key": key}) from None
    return rule


def rule_get(*, workspace: Workspace, rule_id: Any) -> AutomationRule:
    rule = AutomationRule.objects.for_workspace(workspace).filter(id=rule_id).first()
    if rule is None:
        raise NotFound(_("No such rule."), field="rule_id")
    return rule


def rule_enable(*, rule: AutomationRule, enabled: bool) -> AutomationRule:
    """Switch a rule on or off; runs already planned are checked against it when due."""
    rule.enabled = enabled
    rule.save(update_fields=["enabled", "updated_at"])
    return rule
