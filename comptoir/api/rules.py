"""The automation rules endpoints of the REST API: thin over comptoir.automations.rules.

Mounted under the events router (comptoir/api/events.py) at /api/v1/rules.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from comptoir.api.common import request_workspace
from comptoir.api.schemas import ErrorOut, InputSchema
from comptoir.automations.models import AutomationRule
from comptoir.automations.preference import preference_ask
from comptoir.automations.rules import (
    offset_format,
    offset_parse,
    rule_get,
    rule_save,
    variables_for,
)
from comptoir.contacts.models import Contact
from comptoir.core.errors import NotFound

router = Router(tags=["automation rules"])


class RuleIn(InputSchema):
    name: str = Field(max_length=120)
    enabled: bool = True
    trigger_type: str = Field(description="“event” or “date”.")
    trigger: str = Field(
        max_length=64,
        description="An event type (appointment.booked, order.ready, your own…), or for a "
        "date: birthday or appointment_start.",
    )
    offset: str = Field("0", max_length=16, description="-24h, +2h, +2d, +30m, 0.")
    at_time: dt.time | None = Field(
        None, description="A local time (10:00): send then, on the day the offset reaches."
    )
    conditions: list[dict[str, Any]] = Field(
        default_factory=list,
        description='[{"attribute": "language", "op": "eq", "value": "fr"}, '
        '{"op": "has_tag", "value": "vip"}]; ops: eq, ne, in, exists, missing, has_tag.',
    )
    templates: dict[str, str] = Field(description='By language: {"fr": "…", "en": "…"}.')
    purpose: str = Field("service", description="“service” or “marketing” (consent needed).")
    channel: str = Field("preferred", description="preferred (the customer's), sms, email, voice.")
    fallback: list[str] | None = Field(
        None,
        description="The channels tried next, in order, when one is refused for a reason another "
        'fixes or its message fails: ["sms", "voice", "email"]. Left out: the purpose\'s '
        "default (service: sms, voice, email; marketing: none).",
    )


class RuleOut(Schema):
    id: uuid.UUID
    key: str
    name: str
    enabled: bool
    trigger_type: str
    trigger: str
    offset: str
    offset_minutes: int
    at_time: dt.time | None
    conditions: list[dict[str, Any]]
    templates: dict[str, str]
    variables: list[str]
    purpose: str
    channel: str
    fallback: list[str]


class AskChannelOut(Schema):
    message_id: uuid.UUID
    status: str
    created: bool


def _out(rule: AutomationRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "key": rule.key,
        "name": rule.name,
        "enabled": rule.enabled,
        "trigger_type": rule.trigger_type,
        "trigger": rule.trigger,
        "offset": offset_format(rule.offset_minutes),
        "offset_minutes": rule.offset_minutes,
        "at_time": rule.at_time,
        "conditions": rule.conditions,
        "templates": rule.templates,
        "variables": sorted(variables_for(rule.trigger_type, rule.trigger)),
        "purpose": rule.purpose,
        "channel": rule.channel,
        "fallback": rule.fallback,
    }


def _save(request: HttpRequest, payload: RuleIn, rule: AutomationRule | None) -> AutomationRule:
    return rule_save(
        workspace=request_workspace(request),
        rule=rule,
        name=payload.name,
        enabled=payload.enabled,
        trigger_type=payload.trigger_type,
        trigger=payload.trigger,
        offset_minutes=offset_parse(payload.offset),
        at_time=payload.at_time,
        conditions=payload.conditions,
        templates=payload.templates,
        purpose=payload.purpose,
        channel=payload.channel,
        fallback=payload.fallback,
    )


def _rules(request: HttpRequest) -> QuerySet[AutomationRule]:
    return AutomationRule.objects.for_workspace(request_workspace(request)).order_by(
        "created_at", "id"
    )


@router.get("/rules", response=list[RuleOut], summary="The workspace's automation rules")
def list_rules(request: HttpRequest) -> list[dict[str, Any]]:
    return [_out(rule) for rule in _rules(request)]


@router.post(
    "/rules",
    response={201: RuleOut, 409: ErrorOut, 422: ErrorOut},
    summary="Add a rule (templates checked: an unknown variable is refused, named)",
)
def create_rule(request: HttpRequest, payload: RuleIn) -> Status[dict[str, Any]]:
    return Status(201, _out(_save(request, payload, None)))


@router.get("/rules/{rule_id}", response={200: RuleOut, 404: ErrorOut})
def get_rule(request: HttpRequest, rule_id: uuid.UUID) -> dict[str, Any]:
    return _out(rule_get(workspace=request_workspace(request), rule_id=rule_id))


@router.put(
    "/rules/{rule_id}",
    response={200: RuleOut, 404: ErrorOut, 422: ErrorOut},
    summary="Replace a rule (every field; runs already planned keep their time)",
)
def update_rule(request: HttpRequest, rule_id: uuid.UUID, payload: RuleIn) -> dict[str, Any]:
    rule = rule_get(workspace=request_workspace(request), rule_id=rule_id)
    return _out(_save(request, payload, rule))


@router.post(
    "/contacts/{contact_id}/ask-channel",
    response={201: AskChannelOut, 404: ErrorOut, 422: ErrorOut},
    summary="Text the customer “reply 1 SMS, 2 call, 3 email” (once a day); the answer "
    "becomes their preferred channel",
)
def ask_channel(request: HttpRequest, contact_id: uuid.UUID) -> Status[dict[str, Any]]:
    workspace = request_workspace(request)
    contact = Contact.objects.for_workspace(workspace).filter(id=contact_id).first()
    if contact is None:
        raise NotFound(_("No contact with id %(id)s.") % {"id": contact_id}, field="contact_id")
    [enqueued] = preference_ask(workspace=workspace, contact_ids=[str(contact.id)])
    message = enqueued.message
    return Status(
        201, {"message_id": message.id, "status": message.status, "created": enqueued.created}
    )
