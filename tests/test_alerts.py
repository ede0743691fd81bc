"""Urgent alerts: acknowledged by 1 (text or key), 2 reports a problem, no answer is sent
again then escalated to staff; each step once, on a frozen clock in the shop's zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.test import Client

from comptoir.alerts.escalation import alerts_check_due
from comptoir.alerts.models import Alert, AlertStatus
from comptoir.alerts.replies import outcome_of
from comptoir.compliance.consent import opted_out
from comptoir.inbox.models import Conversation, ConversationEvent, ConversationStatus
from comptoir.inbox.settings_services import team_create, team_member_add
from comptoir.messaging.inbound import INBOUND_STEPS, events_store
from comptoir.messaging.models import Direction, Message
from comptoir.messaging.voice import voice_channels
from comptoir.providers.base import ChannelEvent
from comptoir.sandbox.carrier import customer_texts
from comptoir.webhooks.models import WebhookDelivery
from comptoir.webhooks.services import webhook_endpoint_create

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=PARIS)  # a Monday morning in the shop
PHONE = "+33612345678"
STAFF_PHONE = "+33698765432"
TEMPLATE = "{shop} : résultats urgents. Répondez 1 pour confirmer, 2 pour signaler un problème."


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def team(workspace):
    assert workspace.timezone == "Europe/Paris"
    team = team_create(workspace=workspace, name="Astreinte")
    team_member_add(team=team, phone=STAFF_PHONE, first_name="Paul")
    return team


@pytest.fixture
def hooks(workspace):
    webhook_endpoint_create(workspace=workspace, url="https://shop.example/hooks", events=["*"])


def rule_with_alert(api, *, medium="sms", minutes=10, attempts=2, team="Astreinte"):
    rule = api.post(
        "/api/v1/rules",
        {
            "name": "Résultats critiques",
            "trigger_type": "event",
            "trigger": "lab.critical",
            "templates": {"fr": TEMPLATE},
        },
    )
    assert rule.status_code == 201, rule.content
    policy = {
        "medium": medium,
        "escalate_after_minutes": minutes,
        "max_attempts": attempts,
        "team": team,
    }
    answer = put(api, f"/api/v1/rules/{rule.json()['id']}/alert", policy)
    assert answer.status_code == 200, answer.content
    return rule.json()


def put(api, url, data):
    return api.put(url, data, "application/json", HTTP_AUTHORIZATION=f"Bearer {api.key}")


def fire(api, event_id="lab-1"):
    payload = {"id": event_id, "type": "lab.critical", "contact": {"phone": PHONE}}
    answer = api.post("/api/v1/events", payload)
    assert answer.status_code == 202, answer.content
    return Alert.objects.get()


def reply(channel, text: str) -> Message:
    assert customer_texts(channel=channel, sender=PHONE, text=text).status == 200
    return Message.objects.filter(direction=Direction.IN).latest("created_at")


def at(minutes: float):
    return time_machine.travel(T0 + dt.timedelta(minutes=minutes), tick=False)


def webhooks(event_type: str) -> list[dict]:
    return [d.payload for d in WebhookDelivery.objects.filter(event_type=event_type)]


def to_customer() -> list[Message]:
    return list(
        Message.objects.filter(direction=Direction.OUT, address=PHONE).order_by("created_at")
    )


def to_staff() -> list[Message]:
    return list(Message.objects.filter(direction=Direction.OUT, address=STAFF_PHONE))


def test_parsing_is_strict():
    assert outcome_of("1") == outcome_of("OK merci") == outcome_of("Oui") == "acknowledged"
    assert outcome_of("2") == outcome_of("Problème !") == "reported"
    for text in ("12", "1 mais je ne peux pas venir", "stop", "", "3"):
        assert outcome_of(text) is None, text


def test_the_step_runs_after_keywords_and_replies_before_the_inbox():
    names = [step.__name__ for step in INBOUND_STEPS]
    alert_step = names.index("alert_replies_apply")
    assert names.index("keywords_apply") < alert_step < names.index("conversations_receive")
    assert names.index("appointment_replies_apply") < alert_step


def test_a_rule_run_starts_an_alert_and_1_acknowledges_it(api, workspace, channel, team, hooks):
    rule = rule_with_alert(api)
    alert = fire(api)
    first = to_customer()
    assert len(first) == 1 and first[0].body.startswith("Optique Test : résultats urgents")
    assert (alert.status, alert.attempts, alert.message_ids) == ("pending", 1, [str(first[0].id)])
    assert alert.next_check_at == T0 + dt.timedelta(minutes=10)
    with at(3):
        answer = reply(channel, "1")
    alert.refresh_from_db()
    assert (alert.status, alert.answer, alert.next_check_at) == ("acknowledged", "1", None)
    assert alert.acknowledged_at == T0 + dt.timedelta(minutes=3)
    assert answer.kind == "alert_ack"
    conversation = Conversation.objects.get(contact__phone=PHONE)
    assert conversation.unanswered == 0  # handled: nobody needs to answer it
    assert to_customer()[-1].body == "Optique Test : merci, c'est confirmé."
    (payload,) = webhooks("alert.acknowledged")
    assert payload["alert_id"] == str(alert.id) and payload["source"] == "reply"
    assert payload["rule"]["id"] == rule["id"] and payload["message_id"] == str(answer.id)
    with at(30):
        assert alerts_check_due().escalated == 0
    assert to_staff() == []


def test_2_reports_a_problem_staff_alerted_at_once(api, workspace, channel, team, hooks):
    rule_with_alert(api)
    alert = fire(api)
    with at(2):
        answer = reply(channel, "2")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.REPORTED and answer.kind == "alert_report"
    conversation = Conversation.objects.get(contact__phone=PHONE)
    assert conversation.status == ConversationStatus.OPEN
    assert (conversation.flag, conversation.urgent_word) == ("Alerte : problème signalé", "")
    assert conversation.unanswered == 1
    assert conversation.score_base >= 40
    (staff,) = to_staff()
    assert "signale un problème" in staff.body and PHONE in staff.body
    assert ConversationEvent.objects.filter(conversation=conversation, kind="note").count() == 1
    assert len(webhooks("alert.reported")) == 1
    with at(60):
        alerts_check_due()
    assert len(to_staff()) == 1  # a reported alert is not escalated later


def test_no_answer_is_sent_again_then_escalated_then_1_closes_it(
    api, workspace, channel, team, hooks
):
    rule_with_alert(api, minutes=10, attempts=2)
    alert = fire(api)
    with at(9.9):
        report = alerts_check_due()
    assert (report.resent, report.escalated) == (0, 0)
    with at(10):
        assert alerts_check_due().resent == 1
    alert.refresh_from_db()
    first, second = to_customer()
    assert second.body == first.body and second.idempotency_key == f"alert:{alert.id}:2"
    assert (alert.attempts, alert.next_check_at) == (2, T0 + dt.timedelta(minutes=20))
    with at(19):
        assert alerts_check_due().escalated == 0
    with at(20):
        assert alerts_check_due().escalated == 1
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ESCALATED
    assert alert.escalated_at == T0 + dt.timedelta(minutes=20)
    (staff,) = to_staff()
    assert "sans réponse après 2 envoi(s)" in staff.body
    conversation = Conversation.objects.get(contact__phone=PHONE)
    assert conversation.status == ConversationStatus.OPEN
    assert conversation.flag == "Alerte : sans réponse"
    (escalated,) = webhooks("alert.escalated")
    assert escalated["reason"] == "unanswered" and escalated["attempts"] == 2
    with at(25):
        reply(channel, "ok")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED and not alert.is_open
    with at(90):
        alerts_check_due()
    assert len(to_customer()) == 3  # the two attempts and "merci, c'est confirmé"
    assert len(to_staff()) == 1


def test_a_pass_run_twice_or_replayed_after_a_lost_write_sends_once(api, workspace, team):
    rule_with_alert(api)
    alert = fire(api)
    with at(10):
        alerts_check_due()
        alerts_check_due()
    assert len(to_customer()) == 2
    # As if the alert's write were lost after the message was queued: the key finds it.
    Alert.objects.filter(id=alert.id).update(attempts=1, next_check_at=T0)
    with at(10.5):
        assert alerts_check_due().resent == 1
    assert len(to_customer()) == 2
    alert.refresh_from_db()
    assert alert.attempts == 2 and len(alert.message_ids) == 2


def test_stop_is_not_an_acknowledgement(api, workspace, channel, team, hooks):
    rule_with_alert(api)
    alert = fire(api)
    with at(1):
        stop = reply(channel, "STOP")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.PENDING and stop.kind.startswith("keyword_")
    assert opted_out(stop.contact)
    with at(10):
        alerts_check_due()  # the second text is refused: staff must call
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ESCALATED
    assert webhooks("alert.escalated")[0]["reason"] == "unreachable"
    assert len(to_staff()) == 1


def test_a_key_pressed_in_the_alert_call_acknowledges_it(api, workspace, channel, team, hooks):
    if not voice_channels(workspace):
        pytest.skip("no channel of this tree places calls")
    rule_with_alert(api, medium="voice")
    alert = fire(api)
    call = Message.objects.get(idempotency_key=f"alert:{alert.id}:1")
    assert (call.medium, call.gather_digits) == ("voice", 1)
    assert call.body.endswith("Appuyez sur 1 pour confirmer, sur 2 pour signaler un problème.")
    press = ChannelEvent(
        kind="call_keypress",
        sender=PHONE,
        recipient=channel.address,
        provider_id="CALL-1:gather",
        extra={"reference": str(call.id), "digits": "1", "call_id": "CALL-1"},
    )
    with at(1):
        events_store(channel=channel, events=[press])
        events_store(channel=channel, events=[press])  # the provider's retry
    alert.refresh_from_db()
    assert (alert.status, alert.answer) == (AlertStatus.ACKNOWLEDGED, "1")
    (payload,) = webhooks("alert.acknowledged")
    assert payload["source"] == "keypress"


def test_post_an_alert_from_the_shops_software(api, workspace, channel, team, hooks):
    body = {
        "id": "lab-7731",
        "contact": {"phone": PHONE, "first_name": "Julie"},
        "text": "Vos résultats sont arrivés, rappelez le laboratoire.",
        "escalate_after_minutes": 5,
        "max_attempts": 1,
        "team": "Astreinte",
    }
    created = api.post("/api/v1/alerts", body)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["status"] == "pending" and data["attempts"] == 1
    assert data["body"].endswith("Répondez 1 pour confirmer, 2 pour signaler un problème.")
    again = api.post("/api/v1/alerts", body)
    assert (again.status_code, again.json()["id"]) == (200, data["id"])
    assert len(to_customer()) == 1
    with at(5):
        assert alerts_check_due().escalated == 1
    assert api.get(f"/api/v1/alerts/{data['id']}").json()["status"] == "escalated"
    assert [a["id"] for a in api.get("/api/v1/alerts").json()] == [data["id"]]
    closed = api.post(f"/api/v1/alerts/{data['id']}/close")
    assert closed.json()["status"] == "closed"
    assert api.get("/api/v1/alerts").json() == []
    assert api.post(f"/api/v1/alerts/{data['id']}/close").status_code == 409


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"contact": {"id": "0196a3c1-0000-7000-8000-000000000000"}}, 404, "contact.id"),
        ({"contact": None}, 422, "contact"),
        ({"escalate_after_minutes": 0}, 422, "escalate_after_minutes"),
        ({"escalate_after_minutes": -5}, 422, "escalate_after_minutes"),
        ({"max_attempts": 0}, 422, "max_attempts"),
        ({"team": "Nobody"}, 404, "team"),
        ({"medium": "fax"}, 422, "medium"),
        ({"staff_numbers": ["06 12"]}, 422, "staff_numbers.0"),
        ({"staff_message": "{shop} {unknown}"}, 422, "staff_message"),
        ({"text": "  "}, 422, "text"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_sends_nothing(
    api, workspace, team, change, status, field
):
    body = {"contact": {"phone": PHONE}, "text": "Rappelez-nous.", **change}
    answer = api.post("/api/v1/alerts", body)
    assert answer.status_code == status, answer.content
    assert answer.json()["error"]["field"] == field
    assert Alert.objects.count() == 0 and to_customer() == []


def test_a_rules_alert_settings_through_the_api(api, workspace, team):
    rule = api.post(
        "/api/v1/rules",
        {"name": "R", "trigger_type": "event", "trigger": "lab.critical", "templates": {"fr": "x"}},
    ).json()
    url = f"/api/v1/rules/{rule['id']}/alert"
    assert api.get(url).json()["enabled"] is False
    bad = put(api, url, {"escalate_after_minutes": 0})
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "escalate_after_minutes")
    saved = put(api, url, {"escalate_after_minutes": 15, "team": "astreinte"})
    assert saved.status_code == 200
    got = api.get(url).json()
    assert (got["enabled"], got["escalate_after_minutes"], got["team"]) == (True, 15, "Astreinte")
    assert api.get("/api/v1/rules/0196a3c1-0000-7000-8000-000000000000/alert").status_code == 404
    assert api.delete(url, HTTP_AUTHORIZATION=f"Bearer {api.key}").status_code == 204
    assert api.get(url).json()["enabled"] is False


def test_the_alerts_page_lists_open_alerts_and_closes_one(api, workspace, team, staff_client):
    rule = rule_with_alert(api)
    alert = fire(api)
    page = staff_client.get("/alerts/")
    assert page.status_code == 200
    assert f'id="alert-{alert.id}"' in page.content.decode()
    assert "Résultats critiques" in page.content.decode()
    form = staff_client.get(f"/alerts/rules/{rule['id']}/")
    assert form.status_code == 200
    bad = staff_client.post(
        f"/alerts/rules/{rule['id']}/",
        {"ack_required": "on", "medium": "sms", "escalate_after_minutes": "0", "max_attempts": "2"},
    )
    assert bad.status_code == 200 and "Wait between 1 and" in bad.content.decode()
    staff_client.post(f"/alerts/{alert.id}/close")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.CLOSED
    assert f'id="alert-{alert.id}"' not in staff_client.get("/alerts/").content.decode()
    assert Client().get("/alerts/").status_code == 302  # signed-in staff only


def test_a_rule_message_blocked_by_compliance_alerts_staff_at_once(
    api, workspace, channel, team, hooks
):
    rule_with_alert(api)
    reply(channel, "STOP")  # opted out before the alert
    alert = fire(api)
    assert alert.status == AlertStatus.ESCALATED and alert.attempts == 1
    assert webhooks("alert.escalated")[0]["reason"] == "unreachable"
    assert len(to_staff()) == 1
