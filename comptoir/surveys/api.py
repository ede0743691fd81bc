"""The surveys endpoints of the REST API, /api/v1/surveys…: thin over services and selectors."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from comptoir.api.common import request_workspace
from comptoir.api.schemas import ErrorOut, InputSchema
from comptoir.core.errors import NotFound
from comptoir.surveys.models import Survey
from comptoir.surveys.selectors import MAX_MONTHS, Distribution, survey_results, surveys_list
from comptoir.surveys.services import MAX_REPLY_DAYS, survey_save

router = Router(tags=["surveys"])


class SurveyIn(InputSchema):
    low_score: int = Field(2, description="A score at or below it is low (0-4; 0: none).")
    goodwill_offer: str = Field(
        "", description="Sent after a low score, as marketing: {first_name}, {shop}."
    )
    thanks: str = Field("", description="Sent after every score when set: {score} too.")
    reply_days: int = Field(7, description=f"Replies read for 1-{MAX_REPLY_DAYS} days.")


class SurveyOut(Schema):
    id: uuid.UUID
    rule_id: uuid.UUID
    rule_key: str
    rule_name: str
    low_score: int
    goodwill_offer: str
    thanks: str
    reply_days: int


class DistributionOut(Schema):
    counts: dict[str, int] = Field(description='Responses per score: {"1": 0, …, "5": 12}.')
    responses: int
    average: float | None
    sent: int = Field(description="Surveys sent.")
    response_rate: float | None = Field(description="responses / sent, 0-1.")


class MonthOut(DistributionOut):
    month: str = Field(description="2026-11: surveys sent that month, local time.")


class StoreOut(DistributionOut):
    store: str = Field(description='The purchase event\'s data store (or place); "" if none.')


class ResultsOut(Schema):
    survey_id: uuid.UUID | None
    timezone: str
    months: list[MonthOut]
    stores: list[StoreOut]
    total: DistributionOut


def _out(survey: Survey) -> dict[str, Any]:
    return {
        "id": survey.id,
        "rule_id": survey.rule_id,
        "rule_key": survey.rule.key,
        "rule_name": survey.rule.name,
        "low_score": survey.low_score,
        "goodwill_offer": survey.goodwill_offer,
        "thanks": survey.thanks,
        "reply_days": survey.reply_days,
    }


def _dist(distribution: Distribution, **extra: Any) -> dict[str, Any]:
    return {**distribution.as_dict(), **extra}


@router.get("/surveys", response=list[SurveyOut], summary="The workspace's surveys")
def list_surveys(request: HttpRequest) -> list[dict[str, Any]]:
    return [_out(s) for s in surveys_list(request_workspace(request))]


@router.put(
    "/surveys/{uuid:rule_id}",
    response={200: SurveyOut, 404: ErrorOut, 422: ErrorOut},
    summary="Make a rule a survey, or change its survey's settings",
)
def save_survey(request: HttpRequest, rule_id: uuid.UUID, payload: SurveyIn) -> dict[str, Any]:
    survey = survey_save(
        workspace=request_workspace(request),
        rule_id=rule_id,
        low_score=payload.low_score,
        goodwill_offer=payload.goodwill_offer,
        thanks=payload.thanks,
        reply_days=payload.reply_days,
    )
    return _out(survey)


@router.get(
    "/surveys/results",
    response={200: ResultsOut, 404: ErrorOut, 422: ErrorOut},
    summary="Scores per month (last 12, workspace time zone) and per store",
)
def results(
    request: HttpRequest,
    survey_id: uuid.UUID | None = None,
    months: int = Query(12, ge=1, le=MAX_MONTHS),
) -> dict[str, Any]:
    workspace = request_workspace(request)
    survey = None
    if survey_id is not None:
        survey = Survey.objects.for_workspace(workspace).filter(id=survey_id).first()
        if survey is None:
            raise NotFound("No such survey.", field="survey_id")
    found = survey_results(workspace, survey=survey, months=months)
    return {
        "survey_id": survey.id if survey else None,
        "timezone": workspace.timezone,
        "months": [_dist(d, month=f"{m:%Y-%m}") for m, d in found.months],
        "stores": [_dist(d, store=s) for s, d in found.stores],
        "total": _dist(found.total),
    }
