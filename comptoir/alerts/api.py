"""The alerts endpoints of the REST API (/api/v1/alerts, /api/v1/rules/{id}/alert): thin
over comptoir.alerts.services and .policies."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from comptoir.alerts.models import DEFAULT_ESCALATE_AFTER, DEFAULT_MAX_ATTEMPTS, Alert
from comptoir.alerts.policies import (
    Escalation,
    policy_delete,
    policy_get,
    policy_save,
    policy_settings,
    rule_for_alerts,
)
from comptoir.alerts.selectors import alerts_list
from comptoir.alerts.services import alert_close, alert_get, alert_post
from comptoir.api.common import request_workspace
from comptoir.api.schemas import ErrorOut, InputSchema
from comptoir.automations.events import ContactRef, event_contact

router = Router(tags=["urgent alerts"])


class EscalationIn(InputSchema):
    medium: str = Field("sms", description="sms (reply 1 / 2) or voice (a call: press 1 / 2).")
    escalate_after_minutes: int = Field(
        DEFAULT_ESCALATE_AFTER, description="Minutes without an answer before following up."
    )
    max_attempts: int = Field(
        DEFAULT_MAX_ATTEMPTS, description="Times the customer is texted or called in all."
    )
    team: str = Field("", max_length=100, description="A staff team's name or id, texted.")
    staff_numbers: list[str] = Field(default_factory=list, description="Staff numbers, texted.")
    staff_message: str = Field(
        "",
        max_length=1000,
        description="What staff get: {shop} {name} {phone} {alert} {attempts} {outcome}.",
    )

    def settings(self) -> Escalation:
        return Escalation(
            medium=self.medium,
            escalate_after_minutes=self.escalate_after_minutes,
            max_attempts=self.max_attempts,
            team=self.team,
            staff_numbers=self.staff_numbers,
            staff_message=self.staff_message,
        )


class AlertContactIn(InputSchema):
    id: uuid.UUID | None = Field(None, description="A contact's id, or else:")
    phone: str = Field("", max_length=40, description="A number; a new one becomes a contact.")
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)
    language: str = Field("", max_length=8)


class AlertIn(EscalationIn):
    id: str = Field("", max_length=100, description="Your id: the same id again is a retry.")
    contact: AlertContactIn | None = None
    text: str = Field(max_length=1000, description="What to tell the customer.")


class AlertOut(Schema):
    id: uuid.UUID
    external_id: str
    status: str
    medium: str
    contact_id: uuid.UUID
    rule_id: uuid.UUID | None
    run_id: uuid.UUID | None
    body: str
    attempts: int
    max_attempts: int
    escalate_after_minutes: int
    next_check_at: dt.datetime | None
    answer: str
    answered_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    escalated_at: dt.datetime | None
    closed_at: dt.datetime | None
    message_ids: list[str]
    created_at: dt.datetime


class PolicyIn(EscalationIn):
    ack_required: bool = True


class PolicyOut(Schema):
    rule_id: uuid.UUID
    enabled: bool = Field(description="False: the rule has no alert policy (defaults shown).")
    ack_required: bool
    medium: str
    escalate_after_minutes: int
    max_attempts: int
    team: str
    staff_numbers: list[str]
    staff_message: str


def _out(alert: Alert) -> dict[str, Any]:
    rule = alert.policy.rule if alert.policy is not None else None
    return {
        **{name: getattr(alert, name) for name in AlertOut.model_fields if hasattr(alert, name)},
        "rule_id": rule.id if rule else None,
    }


@router.get("/alerts", response=list[AlertOut], summary="Urgent alerts, newest first")
def list_alerts(request: HttpRequest, status: str = "open") -> list[dict[str, Any]]:
    rows = alerts_list(request_workspace(request), open_only=status != "all")
    return [_out(a) for a in rows]


@router.post(
    "/alerts",
    response={200: AlertOut, 201: AlertOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Send an urgent alert the customer must acknowledge (1 / 2), escalated if not",
)
def post_alert(request: HttpRequest, payload: AlertIn) -> Status[dict[str, Any]]:
    workspace = request_workspace(request)
    ref = None
    if payload.contact is not None:
        details = payload.contact.model_dump(exclude={"id", "phone"})
        ref = ContactRef(id=payload.contact.id, phone=payload.contact.phone, details=details)
    contact = event_contact(workspace=workspace, ref=ref)
    alert, created = alert_post(
        workspace=workspace,
        contact=contact,
        body=payload.text,
        settings=payload.settings(),
        external_id=payload.id.strip(),
    )
    return Status(201 if created else 200, _out(alert_get(workspace=workspace, alert_id=alert.id)))


@router.get("/alerts/{alert_id}", response={200: AlertOut, 404: ErrorOut}, summary="An alert")
def get_alert(request: HttpRequest, alert_id: uuid.UUID) -> dict[str, Any]:
    return _out(alert_get(workspace=request_workspace(request), alert_id=alert_id))


@router.post(
    "/alerts/{alert_id}/close",
    response={200: AlertOut, 404: ErrorOut, 409: ErrorOut},
    summary="Staff dealt with it: no more attempts",
)
def close_alert(request: HttpRequest, alert_id: uuid.UUID) -> dict[str, Any]:
    return _out(alert_close(workspace=request_workspace(request), alert_id=alert_id))


def _policy_out(rule_id: Any, policy: Any) -> dict[str, Any]:
    settings = policy_settings(policy)
    return {
        "rule_id": rule_id,
        "enabled": policy is not None,
        "ack_required": policy.ack_required if policy is not None else False,
        "medium": settings.medium,
        "escalate_after_minutes": settings.escalate_after_minutes,
        "max_attempts": settings.max_attempts,
        "team": settings.team,
        "staff_numbers": list(settings.staff_numbers),
        "staff_message": settings.staff_message,
    }


@router.get(
    "/rules/{rule_id}/alert",
    response={200: PolicyOut, 404: ErrorOut},
    summary="A rule's acknowledgement and escalation settings",
)
def get_policy(request: HttpRequest, rule_id: uuid.UUID) -> dict[str, Any]:
    workspace = request_workspace(request)
    rule = rule_for_alerts(workspace=workspace, rule_id=rule_id)
    return _policy_out(rule.id, policy_get(workspace=workspace, rule=rule))


@router.put(
    "/rules/{rule_id}/alert",
    response={200: PolicyOut, 404: ErrorOut, 422: ErrorOut},
    summary="Make a rule's messages urgent alerts: acknowledged, or escalated",
)
def put_policy(request: HttpRequest, rule_id: uuid.UUID, payload: PolicyIn) -> dict[str, Any]:
    workspace = request_workspace(request)
    rule = rule_for_alerts(workspace=workspace, rule_id=rule_id)
    policy = policy_save(
        workspace=workspace,
        rule=rule,
        ack_required=payload.ack_required,
        settings=payload.settings(),
    )
    return _policy_out(rule.id, policy)


@router.delete(
    "/rules/{rule_id}/alert",
    response={204: None, 404: ErrorOut},
    summary="The rule's messages are no longer alerts (running ones go on)",
)
def delete_policy(request: HttpRequest, rule_id: uuid.UUID) -> Status[None]:
    workspace = request_workspace(request)
    policy_delete(workspace=workspace, rule=rule_for_alerts(workspace=workspace, rule_id=rule_id))
    return Status(204, None)
