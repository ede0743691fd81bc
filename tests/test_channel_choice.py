"""Channel choice per customer: the preferred channel, a fixed line called instead, email
for those without a number, the rule's fallback chain, and asking the preference."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from comptoir.automations.fallback import runs_fallback_after_failure
from comptoir.automations.firing import runs_fire_due
from comptoir.automations.models import AutomationRule, RunStatus, ScheduledRun
from comptoir.automations.preference import answer_parse
from comptoir.automations.rules import rule_save
from comptoir.channels.services import channel_create
from comptoir.contacts.models import Contact
from comptoir.core.errors import ValidationError
from comptoir.dispatch.dispatcher import dispatch_channel
from comptoir.messaging.models import Message, Status
from comptoir.sandbox.carrier import customer_texts, deliver_receipts

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)  # a Monday, 10:00 in Paris
START = dt.datetime(2026, 11, 24, 14, 30, tzinfo=dt.UTC)
REMINDER_DUE = START - dt.timedelta(hours=24)
LANDLINE = "+33142685300"
MOBILE = "+33612345678"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def at(moment: dt.datetime):
    return time_machine.travel(moment, tick=False)


def book(api, contact, event_id="b1"):
    payload = {
        "id": event_id,
        "type": "appointment.booked",
        "contact": contact,
        "data": {"appointment_id": f"rdv-{event_id}", "starts_at": START.isoformat()},
    }
    answer = api.post("/api/v1/events", payload)
    assert answer.status_code == 202, answer.content
    return answer.json()


def reminder():
    return ScheduledRun.objects.select_related("message").get(rule__key="appointment_reminder")


def fire_reminder():
    with at(REMINDER_DUE):
        runs_fire_due()
    return reminder()


@pytest.fixture
def email_channel(workspace):
    return channel_create(
        workspace=workspace, provider="email", name="Email", address="shop@example.com",
        config={"host": "127.0.0.1", "port": 2525}, secrets={},
    )  # fmt: skip


def test_a_fixed_line_customers_reminder_becomes_a_voice_call(api, workspace, channel):
    book(api, {"phone": LANDLINE})
    run = fire_reminder()
    assert (run.status, run.channel) == (RunStatus.SENT, "voice")
    message = run.message
    assert (message.medium, message.channel_id, message.status) == ("voice", channel.id, "queued")
    assert message.idempotency_key == f"automation:{run.id}"
    assert message.body.startswith("Optique Test : rappel de votre rendez-vous")
    # Through the same dispatcher: the simulated handset rings.
    with at(REMINDER_DUE):
        assert dispatch_channel(channel.id).sent >= 1
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_a_mobile_customer_still_gets_a_text(api, workspace):
    book(api, {"phone": MOBILE})
    run = fire_reminder()
    assert (run.channel, run.message.medium, run.message.channel.scheme) == ("sms", "text", "sms")


def test_a_customer_with_only_an_email_gets_an_email(api, workspace, email_channel):
    contact = Contact.objects.create(
        workspace=workspace, phone="", number_type="unknown", email="anne@example.net"
    )
    book(api, {"id": str(contact.id)})
    run = fire_reminder()
    assert (run.status, run.channel) == (RunStatus.SENT, "email")
    assert (run.message.channel_id, run.message.address) == (email_channel.id, "anne@example.net")


def test_the_preferred_channel_is_used(api, workspace, email_channel):
    contact = Contact.objects.create(
        workspace=workspace, phone=MOBILE, number_type="mobile", email="anne@example.net",
        preferred_channel="email",
    )  # fmt: skip
    book(api, {"id": str(contact.id)})
    assert fire_reminder().channel == "email"


def test_a_marketing_rule_without_fallback_is_skipped_when_refused(api, workspace):
    rule = AutomationRule.objects.get(workspace=workspace, key="appointment_reminder")
    assert rule.fallback == ["sms", "voice", "email"]  # a service rule's default
    rule_save(
        workspace=workspace, rule=rule, name=rule.name, trigger_type=rule.trigger_type,
        trigger=rule.trigger, templates=rule.templates, offset_minutes=rule.offset_minutes,
        purpose="marketing", channel="sms",
    )  # fmt: skip
    rule.refresh_from_db()
    assert rule.fallback == []
    book(api, {"phone": LANDLINE})
    run = fire_reminder()
    # The chooser still calls a fixed line; marketing by voice needs consent.
    assert (run.status, run.reason) == (RunStatus.SKIPPED, "no_consent")


def test_a_failed_text_is_followed_by_a_call_once(api, workspace, channel):
    channel.config = {**channel.config, "fail_rate": 1.0}
    channel.save()
    book(api, {"phone": MOBILE})
    run = fire_reminder()
    first = run.message
    with at(REMINDER_DUE):
        dispatch_channel(channel.id)
    with at(REMINDER_DUE + dt.timedelta(seconds=5)):
        deliver_receipts()  # the network reports the text undelivered
    first.refresh_from_db()
    assert first.status == Status.FAILED
    # The receipt's after-commit step; in a test's transaction, called as it would be.
    assert runs_fallback_after_failure([first.id]) == 1
    run.refresh_from_db()
    follow_up = run.message
    assert (run.channel, follow_up.medium) == ("voice", "voice")
    assert follow_up.idempotency_key == f"automation:{run.id}:voice"
    assert runs_fallback_after_failure([first.id]) == 0  # at most once per channel
    assert Message.objects.filter(idempotency_key__startswith=f"automation:{run.id}").count() == 2


def test_an_unanswered_call_falls_back_to_email(api, workspace, channel, email_channel):
    contact = Contact.objects.create(
        workspace=workspace, phone=LANDLINE, number_type="fixed_line", email="anne@example.net"
    )
    book(api, {"id": str(contact.id)})
    run = fire_reminder()
    assert run.channel == "voice"
    with at(REMINDER_DUE):
        dispatch_channel(channel.id)
    with at(REMINDER_DUE + dt.timedelta(seconds=40)):
        deliver_receipts()  # rang out: no-answer
    call = Message.objects.get(id=run.message_id)
    assert (call.status, call.error_code) == (Status.FAILED, "no_answer")
    assert runs_fallback_after_failure([call.id]) == 1
    run.refresh_from_db()
    assert run.channel == "email"
    assert Message.objects.get(id=run.message_id).channel_id == email_channel.id


def test_a_cancelled_appointment_gets_no_fallback(api, workspace, channel):
    channel.config = {**channel.config, "fail_rate": 1.0}
    channel.save()
    book(api, {"phone": MOBILE})
    run = fire_reminder()
    run.appointment.status = "cancelled"
    run.appointment.save()
    Message.objects.filter(id=run.message_id).update(status=Status.FAILED)
    assert runs_fallback_after_failure([run.message_id]) == 0


@pytest.mark.parametrize(
    ("value", "field"),
    [(["sms", "fax"], "fallback.1"), (["sms", "sms"], "fallback.1"), ("x", "fallback.0"),
     (42, "fallback")],
)  # fmt: skip
def test_a_bad_fallback_is_refused_with_its_field(workspace, value, field):
    with pytest.raises(ValidationError) as error:
        rule_save(
            workspace=workspace, name="R", trigger_type="event", trigger="order.ready",
            templates={"fr": "Prêt"}, fallback=value,
        )  # fmt: skip
    assert error.value.field == field


def test_the_api_edits_the_fallback(api, workspace):
    rules = api.get("/api/v1/rules").json()
    reminder_rule = next(r for r in rules if r["key"] == "appointment_reminder")
    assert reminder_rule["fallback"] == ["sms", "voice", "email"]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api.key}"}

    def put(fallback):
        change = {**reminder_rule, "fallback": fallback}
        return Client().put(
            f"/api/v1/rules/{reminder_rule['id']}",
            change,
            content_type="application/json",
            **headers,
        )

    answer = put(["sms", "email"])
    assert answer.status_code == 200, answer.content
    assert answer.json()["fallback"] == ["sms", "email"]
    bad = put(["pigeon"])
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "fallback.0"
    assert AutomationRule.objects.get(id=reminder_rule["id"]).fallback == ["sms", "email"]


# -- asking the preference ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "choice"),
    [("1", "sms"), ("2", "voice"), ("3", "email"), ("Appel", "voice"), ("SMS!", "sms"),
     ("3 email merci", "email"), ("par mail", "email"), ("call", "voice"), ("4", None),
     ("1 2", None), ("oui", None), ("je préfère qu'on m'appelle le matin", None)],
)  # fmt: skip
def test_answers_are_read_tolerantly(text, choice):
    assert answer_parse(text) == choice


def test_the_question_is_asked_and_the_answer_recorded(api, workspace, channel):
    contact = Contact.objects.create(
        workspace=workspace, phone=MOBILE, number_type="mobile", language="fr"
    )
    answer = api.post(f"/api/v1/contacts/{contact.id}/ask-channel", {})
    assert answer.status_code == 201, answer.content
    question = Message.objects.get(id=answer.json()["message_id"])
    assert question.kind == "channel_question"
    assert "Répondez 1 pour SMS, 2 pour un appel, 3 pour un email" in question.body
    again = api.post(f"/api/v1/contacts/{contact.id}/ask-channel", {})
    assert again.json()["message_id"] == str(question.id)  # once a day
    customer_texts(channel=channel, sender=MOBILE, text="2")
    contact.refresh_from_db()
    assert contact.preferred_channel == "voice"
    reply = Message.objects.get(direction="in", contact=contact)
    assert reply.kind == "channel_answer"
    from comptoir.inbox.models import Conversation

    conversation = Conversation.objects.get(contact=contact)
    assert conversation.unanswered == 0  # handled: it waits for nobody


def test_a_digit_answers_nothing_when_the_question_was_not_asked(workspace, channel):
    contact = Contact.objects.create(workspace=workspace, phone=MOBILE, number_type="mobile")
    customer_texts(channel=channel, sender=MOBILE, text="3")
    contact.refresh_from_db()
    assert contact.preferred_channel == "sms"
    assert Message.objects.get(direction="in").kind == ""


def test_an_answer_after_seven_days_is_not_taken(api, workspace, channel):
    contact = Contact.objects.create(workspace=workspace, phone=MOBILE, number_type="mobile")
    api.post(f"/api/v1/contacts/{contact.id}/ask-channel", {})
    with at(T0 + dt.timedelta(days=8)):
        customer_texts(channel=channel, sender=MOBILE, text="3")
    contact.refresh_from_db()
    assert contact.preferred_channel == "sms"


def test_asking_an_unknown_contact_is_a_404(api, workspace):
    answer = api.post("/api/v1/contacts/00000000-0000-0000-0000-000000000000/ask-channel", {})
    assert answer.status_code == 404


def test_the_rule_form_edits_the_fallback_and_names_a_bad_one(workspace, staff_client):
    rule = AutomationRule.objects.get(workspace=workspace, key="order_ready")
    page = staff_client.get(f"/automations/rules/{rule.id}/").content.decode()
    assert 'value="sms, voice, email"' in page
    form = {
        "name": rule.name,
        "enabled": "on",
        "trigger_type": "event",
        "trigger": "order.ready",
        "offset": "0",
        "purpose": "service",
        "channel": "preferred",
        "template_fr": rule.templates["fr"],
        "fallback": "sms, fax",
    }
    answer = staff_client.post(f"/automations/rules/{rule.id}/", form)
    assert answer.status_code == 200
    assert "&#x27;fax&#x27; is not a channel" in answer.content.decode()
    rule.refresh_from_db()
    assert rule.fallback == ["sms", "voice", "email"]
    form["fallback"] = "voice, email"
    assert staff_client.post(f"/automations/rules/{rule.id}/", form).status_code == 302
    rule.refresh_from_db()
    assert rule.fallback == ["voice", "email"]
