"""Automation rules: defaults, validation at save, offsets, birthdays, surveys, the pages."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from comptoir.automations.firing import runs_fire_due
from comptoir.automations.models import AutomationRule, RunStatus, ScheduledRun
from comptoir.automations.planning import birthdays_plan
from comptoir.automations.rules import offset_format, offset_parse, rule_save
from comptoir.contacts.models import Contact
from comptoir.core.errors import ValidationError
from comptoir.messaging.models import Message
from comptoir.workspaces.models import Role
from comptoir.workspaces.services import staff_add
from tests.conftest import grant_marketing

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def test_a_new_workspace_has_the_default_rules(workspace):
    rules = {r.key: r for r in AutomationRule.objects.for_workspace(workspace)}
    assert set(rules) == {
        "booking_confirmation",
        "appointment_reminder",
        "order_ready",
        "birthday",
        "purchase_survey",
    }
    reminder = rules["appointment_reminder"]
    assert (reminder.trigger_type, reminder.trigger, reminder.offset_minutes) == (
        "date",
        "appointment_start",
        -1440,
    )
    assert "Répondez C pour confirmer, A pour annuler" in reminder.templates["fr"]
    assert (rules["birthday"].at_time, rules["birthday"].purpose) == (dt.time(10, 0), "marketing")
    assert rules["purchase_survey"].offset_minutes == 2 * 1440
    assert reminder.name == "Rappel 24 h avant le rendez-vous"


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("-24h", -1440), ("+2 h", 120), ("+2d", 2880), ("30m", 30), ("0", 0), ("\u22121 j", -1440)],
)
def test_offsets_read_as_people_write_them(text, minutes):
    assert offset_parse(text) == minutes
    assert offset_parse(offset_format(minutes)) == minutes


@pytest.mark.parametrize("text", ["demain", "-24 hours", "+400d", "", "2h30"])
def test_a_bad_offset_is_refused_naming_the_field(text):
    with pytest.raises(ValidationError) as caught:
        offset_parse(text)
    assert caught.value.field == "offset"


def test_an_unknown_variable_is_refused_at_save_naming_it(workspace):
    with pytest.raises(ValidationError) as caught:
        rule_save(
            workspace=workspace,
            name="Commande prête",
            trigger_type="event",
            trigger="order.ready",
            templates={"fr": "Bonjour {prenom}, commande {order_number} prête"},
        )
    assert caught.value.field == "templates.fr"
    assert "{prenom}" in caught.value.message
    # An appointment variable is unknown to a birthday rule.
    with pytest.raises(ValidationError) as caught:
        rule_save(
            workspace=workspace,
            name="x",
            trigger_type="date",
            trigger="birthday",
            templates={"en": "See you at {time}"},
        )
    assert "{time}" in caught.value.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"trigger_type": "weekly"}, "trigger_type"),
        ({"trigger_type": "date", "trigger": "anniversary"}, "trigger"),
        ({"purpose": "spam"}, "purpose"),
        ({"channel": "fax"}, "channel"),
        ({"templates": {}}, "templates"),
        (
            {"conditions": [{"attribute": "shoe_size", "op": "eq", "value": 42}]},
            "conditions.0.attribute",
        ),
        (
            {"conditions": [{"attribute": "language", "op": "like", "value": "f"}]},
            "conditions.0.op",
        ),
        ({"at_time": "25:00"}, "at_time"),
    ],
)
def test_every_field_of_a_rule_is_checked(workspace, changes, field):
    values = {
        "workspace": workspace,
        "name": "R",
        "trigger_type": "event",
        "trigger": "order.ready",
        "templates": {"fr": "Prête"},
        **changes,
    }
    with pytest.raises(ValidationError) as caught:
        rule_save(**values)
    assert caught.value.field == field


def test_rules_api_lists_and_replaces_with_checks(api, workspace):
    rules = api.get("/api/v1/rules").json()
    assert len(rules) == 5
    order = next(r for r in rules if r["key"] == "order_ready")
    assert "order_number" in order["variables"]
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api.key}"}
    change = {
        **order,
        "offset": "+2h",
        "templates": {"fr": "{shop} : commande {order_number} prête {oops}"},
    }
    answer = client.put(
        f"/api/v1/rules/{order['id']}", change, content_type="application/json", **headers
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "templates.fr"
    assert "{oops}" in answer.json()["error"]["message"]
    change["templates"] = {"fr": "{shop} : commande {order_number} prête"}
    answer = client.put(
        f"/api/v1/rules/{order['id']}", change, content_type="application/json", **headers
    )
    assert answer.status_code == 200, answer.content
    assert (answer.json()["offset"], answer.json()["offset_minutes"]) == ("+2h", 120)
    created = api.post(
        "/api/v1/rules",
        {
            "name": "Points",
            "trigger_type": "event",
            "trigger": "loyalty.points_added",
            "templates": {"fr": "{first_name|Bonjour}, merci !"},
            "conditions": [{"op": "has_tag", "value": "vip"}],
        },
    )
    assert created.status_code == 201, created.content
    assert (
        api.get(f"/api/v1/rules/{created.json()['id']}").json()["trigger"] == "loyalty.points_added"
    )


def test_birthday_goes_at_ten_local_in_the_contacts_zone_else_the_shops(workspace):
    paris = Contact.objects.create(
        workspace=workspace, phone="+33611111111", first_name="Léa", birthday=dt.date(1990, 11, 24)
    )
    montreal = Contact.objects.create(
        workspace=workspace,
        phone="+33622222222",
        first_name="Sam",
        birthday=dt.date(1985, 11, 24),
        timezone="America/Toronto",
    )
    Contact.objects.create(workspace=workspace, phone="+33633333333", birthday=dt.date(1985, 6, 1))
    grant_marketing(workspace, ["+33611111111", "+33622222222"])
    assert birthdays_plan() == 2
    assert birthdays_plan() == 2  # planned again: still one run each (unique)
    runs = {r.contact_id: r for r in ScheduledRun.objects.filter(rule__key="birthday")}
    assert len(runs) == 2
    assert runs[paris.id].due_at == dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)  # 10:00 Paris
    assert runs[montreal.id].due_at == dt.datetime(
        2026, 11, 24, 15, 0, tzinfo=dt.UTC
    )  # 10:00 Toronto
    with time_machine.travel(dt.datetime(2026, 11, 24, 9, 0, 1, tzinfo=dt.UTC), tick=False):
        assert runs_fire_due().sent == 1
    message = Message.objects.get()
    assert message.body.startswith("Optique Test : joyeux anniversaire Léa !")
    assert message.purpose == "marketing"


def test_a_birthday_wish_without_marketing_consent_is_skipped_with_the_reason(workspace):
    Contact.objects.create(
        workspace=workspace, phone="+33611111111", birthday=dt.date(1990, 11, 23)
    )
    with time_machine.travel(dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC), tick=False):
        birthdays_plan()
    with time_machine.travel(dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC), tick=False):
        runs_fire_due()
    run = ScheduledRun.objects.get()
    assert run.status == RunStatus.SKIPPED
    assert run.reason and run.reason != "conditions"
    assert run.message.status == "blocked"


def test_the_survey_goes_two_days_after_the_purchase(api, workspace, frozen):
    payload = {
        "id": "p-1",
        "type": "purchase.completed",
        "contact": {"phone": "+33611111111"},
        "data": {"amount": "189.00"},
    }
    run = api.post("/api/v1/events", payload).json()["runs"][0]
    assert dt.datetime.fromisoformat(run["due_at"]) == T0 + dt.timedelta(days=2)
    with time_machine.travel(T0 + dt.timedelta(days=2) - dt.timedelta(seconds=1), tick=False):
        assert runs_fire_due().sent == 0
    with time_machine.travel(T0 + dt.timedelta(days=2), tick=False):
        assert runs_fire_due().sent == 1
    assert "De 1 à 5" in Message.objects.get().body


def test_conditions_are_checked_when_the_run_fires(api, workspace):
    rule = AutomationRule.objects.get(workspace=workspace, key="order_ready")
    rule.conditions = [{"attribute": "language", "op": "eq", "value": "en"}]
    rule.save()
    api.post(
        "/api/v1/events", {"id": "o1", "type": "order.ready", "contact": {"phone": "+33611111111"}}
    )
    run = ScheduledRun.objects.get()
    assert (run.status, run.reason, Message.objects.count()) == ("skipped", "conditions", 0)
    api.post(
        "/api/v1/events",
        {
            "id": "o2",
            "type": "order.ready",
            "contact": {"phone": "+33622222222", "language": "en"},
            "data": {"order_number": "A1"},
        },
    )
    assert Message.objects.get().body.startswith("Optique Test: good news, your order A1 is ready")


def test_owners_list_edit_and_switch_rules_agents_may_not(workspace, staff_client):
    page = staff_client.get("/automations/")
    assert page.status_code == 200
    assert "Rappel 24 h avant le rendez-vous" in page.content.decode()
    rule = AutomationRule.objects.get(workspace=workspace, key="order_ready")
    form = {
        "name": "Prête",
        "enabled": "on",
        "trigger_type": "event",
        "trigger": "order.ready",
        "offset": "0",
        "purpose": "service",
        "channel": "preferred",
        "template_fr": "{shop} : commande {numero} prête",
        "template_en": "",
        "conditions": "",
    }
    answer = staff_client.post(f"/automations/rules/{rule.id}/", form)
    assert answer.status_code == 200
    assert "{numero}" in answer.content.decode()
    form["template_fr"] = "{shop} : commande {order_number} prête"
    assert staff_client.post(f"/automations/rules/{rule.id}/", form).status_code == 302
    rule.refresh_from_db()
    assert rule.templates == {"fr": "{shop} : commande {order_number} prête"}
    toggled = staff_client.post(
        f"/automations/rules/{rule.id}/on", {"enabled": "0"}, HTTP_HX_REQUEST="true"
    )
    assert toggled.status_code == 200 and 'id="rules"' in toggled.content.decode()
    rule.refresh_from_db()
    assert rule.enabled is False
    staff_add(workspace=workspace, username="bob", password="pw-bob-123", role=Role.AGENT)
    agent = Client()
    agent.login(username="bob", password="pw-bob-123")
    assert agent.get("/automations/").status_code == 403
    assert agent.post(f"/automations/rules/{rule.id}/on", {"enabled": "1"}).status_code == 403
