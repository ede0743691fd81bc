"""Survey results per month (workspace time zone) and per store; the API and the page."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
import time_machine
from django.test import Client

from comptoir.automations.models import AutomationRule, CustomerEvent, ScheduledRun
from comptoir.contacts.models import Contact
from comptoir.surveys.models import Survey, SurveyResponse
from comptoir.surveys.selectors import survey_results
from comptoir.workspaces.models import Role, Workspace
from comptoir.workspaces.services import staff_add


def put(api, path: str, body: dict):
    return api.put(
        path,
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.key}",
    )


NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def sent(workspace: Workspace, fired_at: dt.datetime, data: dict, score: int | None = None):
    """A survey run sent at `fired_at` for a purchase with this data, answered with `score`."""
    survey = Survey.objects.get(workspace=workspace)
    contact = Contact.objects.create(
        workspace=workspace, phone=f"+3361234{uuid.uuid4().int % 10**4:04d}"
    )
    event = CustomerEvent.objects.create(
        workspace=workspace,
        contact=contact,
        type="purchase.completed",
        data=data,
        occurred_at=fired_at,
    )
    run = ScheduledRun.objects.create(
        workspace=workspace,
        rule=survey.rule,
        contact=contact,
        event=event,
        subject_key=f"event:{event.id}",
        due_at=fired_at,
        fired_at=fired_at,
        status="sent",
    )
    if score is not None:
        SurveyResponse.objects.create(
            workspace=workspace,
            survey=survey,
            run=run,
            contact=contact,
            score=score,
            store=data.get("store") or data.get("place") or "",
            answered_at=fired_at + dt.timedelta(hours=3),
        )
    return run


@pytest.fixture
def history(workspace, other_workspace):
    # 23:30 UTC on 31 October is 00:30 on 1 November in Paris: a November survey.
    sent(workspace, dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC), {"store": "Lyon"}, 2)
    sent(workspace, dt.datetime(2026, 11, 10, 9, 0, tzinfo=dt.UTC), {"place": "Annecy"}, 5)
    sent(workspace, dt.datetime(2026, 11, 12, 9, 0, tzinfo=dt.UTC), {"store": "Lyon"})
    sent(workspace, dt.datetime(2026, 10, 15, 9, 0, tzinfo=dt.UTC), {"store": "Lyon"}, 4)
    sent(workspace, dt.datetime(2025, 11, 15, 9, 0, tzinfo=dt.UTC), {"store": "Lyon"}, 1)  # too old
    sent(other_workspace, dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC), {"store": "Lyon"}, 1)


def test_results_per_month_in_the_workspace_time_zone_and_per_store(history, workspace):
    results = survey_results(workspace)
    months = {f"{m:%Y-%m}": d for m, d in results.months}
    assert [*months][::11] == ["2025-12", "2026-11"]
    assert len(months) == 12
    november, october = months["2026-11"], months["2026-10"]
    assert (november.counts, november.sent, november.average) == ([0, 1, 0, 0, 1], 3, 3.5)
    assert november.response_rate == 0.667
    assert (october.counts, october.sent, october.average, october.response_rate) == (
        [0, 0, 0, 1, 0],
        1,
        4.0,
        1.0,
    )
    assert months["2026-09"].responses == 0 and months["2026-09"].average is None
    stores = dict(results.stores)
    assert set(stores) == {"Lyon", "Annecy"}
    assert (stores["Lyon"].counts, stores["Lyon"].sent, stores["Lyon"].average) == (
        [0, 1, 0, 1, 0],
        3,
        3.0,
    )
    assert (stores["Annecy"].responses, stores["Annecy"].sent) == (1, 1)
    assert (results.total.responses, results.total.sent, results.total.average) == (3, 4, 3.67)
    assert results.total.response_rate == 0.75


def test_results_for_one_survey_only(history, workspace):
    rule = AutomationRule.objects.get(workspace=workspace, key="order_ready")
    other = Survey.objects.create(workspace=workspace, rule=rule)
    results = survey_results(workspace, survey=other)
    assert (results.total.responses, results.total.sent, results.stores) == (0, 0, [])


def test_api_results(history, api, workspace):
    response = api.get("/api/v1/surveys/results")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["timezone"] == "Europe/Paris"
    november = body["months"][-1]
    assert november == {
        "month": "2026-11",
        "counts": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1},
        "responses": 2,
        "average": 3.5,
        "sent": 3,
        "response_rate": 0.667,
    }
    assert body["stores"][0]["store"] == "Lyon"
    assert body["total"]["responses"] == 3
    survey = Survey.objects.get(workspace=workspace)
    one = api.get(f"/api/v1/surveys/results?survey_id={survey.id}&months=2")
    assert [m["month"] for m in one.json()["months"]] == ["2026-10", "2026-11"]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("months=0", 422, "months"),
        ("months=25", 422, "months"),
        (f"survey_id={uuid.uuid4()}", 404, "survey_id"),
    ],
)
def test_api_results_refuses_bad_input(api, query, status, field):
    response = api.get(f"/api/v1/surveys/results?{query}")
    assert response.status_code == status
    assert response.json()["error"]["field"] == field


def test_api_surveys_list_and_save(api, workspace, other_workspace):
    [seeded] = api.get("/api/v1/surveys").json()
    assert (seeded["rule_key"], seeded["low_score"], seeded["reply_days"]) == (
        "purchase_survey",
        2,
        7,
    )
    rule = AutomationRule.objects.get(workspace=workspace, key="order_ready")
    saved = put(
        api,
        f"/api/v1/surveys/{rule.id}",
        {
            "low_score": 3,
            "goodwill_offer": "{shop} : -10 % pour vous, {first_name}.",
            "reply_days": 3,
        },
    )
    assert saved.status_code == 200, saved.content
    assert Survey.objects.get(rule=rule).low_score == 3
    typo = put(api, f"/api/v1/surveys/{rule.id}", {"goodwill_offer": "{prenom}, -10 %"})
    assert typo.status_code == 422
    assert typo.json()["error"]["field"] == "goodwill_offer"
    assert "{prenom}" in typo.json()["error"]["message"]
    days = put(api, f"/api/v1/surveys/{rule.id}", {"reply_days": 0})
    assert (days.status_code, days.json()["error"]["field"]) == (422, "reply_days")
    theirs = AutomationRule.objects.get(workspace=other_workspace, key="order_ready")
    assert put(api, f"/api/v1/surveys/{theirs.id}", {}).status_code == 404
    assert not Survey.objects.filter(rule=theirs).exists()


def test_the_page_shows_the_chart_per_month_and_store(
    history, staff_client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(20):
        page = staff_client.get("/surveys/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-month="2026-11"' in html and 'data-month="2025-12"' in html
    assert 'class="score-2" style="width: 50.0%"' in html  # November: half 2s, half 5s
    assert "Lyon" in html and "Annecy" in html
    assert 'href="/surveys/"' in html  # the nav link


def test_agents_cannot_see_the_page(workspace):
    staff_add(workspace=workspace, username="agent", password="correct horse", role=Role.AGENT)
    client = Client()
    client.login(username="agent", password="correct horse")
    assert client.get("/surveys/").status_code == 403


def test_an_owner_makes_a_rule_a_survey_from_the_page(staff_client, workspace):
    rule = AutomationRule.objects.get(workspace=workspace, key="birthday")
    chosen = staff_client.get(f"/surveys/?make={rule.id}")
    assert chosen.status_code == 302 and chosen["Location"] == f"/surveys/rules/{rule.id}/"
    typo = staff_client.post(
        chosen["Location"], {"low_score": 2, "reply_days": 7, "goodwill_offer": "{prenom}"}
    )
    assert typo.status_code == 422
    assert "Unknown variable {prenom}" in typo.content.decode()
    assert not Survey.objects.filter(rule=rule).exists()
    saved = staff_client.post(
        chosen["Location"], {"low_score": 1, "reply_days": 5, "thanks": "Merci !"}
    )
    assert saved.status_code == 302
    survey = Survey.objects.get(rule=rule)
    assert (survey.low_score, survey.reply_days, survey.thanks) == (1, 5, "Merci !")
    removed = staff_client.post(chosen["Location"], {"remove": "1"})
    assert removed.status_code == 302 and not Survey.objects.filter(rule=rule).exists()
    assert staff_client.get(f"/surveys/rules/{uuid.uuid4()}/").status_code == 404
    assert staff_client.get("/surveys/?make=nope").status_code == 404
