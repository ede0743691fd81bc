"""Satisfaction surveys: the score parser, replies through the real inbound path, the
priority conversation and goodwill offer after a low score, and the webhook."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterator

import pytest
import time_machine
from django.apps import apps as django_apps
from django.db import connection

from comptoir.automations.firing import runs_fire_due
from comptoir.automations.models import AutomationRule, ScheduledRun
from comptoir.inbox.models import Conversation
from comptoir.inbox.priority import conversation_parts
from comptoir.inbox.services import conversations_list
from comptoir.messaging.inbound import INBOUND_STEPS, events_store
from comptoir.messaging.models import Direction, Message, Status
from comptoir.providers.base import InboundMessage
from comptoir.sandbox.carrier import customer_texts
from comptoir.surveys import replies
from comptoir.surveys.models import Survey, SurveyResponse
from comptoir.surveys.parsing import score_parse
from comptoir.surveys.services import survey_save
from comptoir.webhooks.models import WebhookDelivery
from comptoir.webhooks.services import webhook_endpoint_create
from comptoir.workspaces.memo import memo_forget
from comptoir.workspaces.services import workspace_create
from tests.conftest import grant_marketing

T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
SURVEYED = T0 + dt.timedelta(days=2)  # the seeded rule's +2 days
PHONE = "+33612345678"
OTHER = "+33612345679"


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("5", 5),
        ("1", 1),
        ("5/5", 5),
        ("5 / 5", 5),
        ("3/5", 3),
        ("4 sur 5", 4),
        ("4 out of 5", 4),
        ("cinq", 5),
        ("Quatre, merci !", 4),
        ("deux", 2),
        ("five", 5),
        ("FIVE stars!", 5),
        ("Un", 1),
        ("une étoile", 1),
        ("⭐⭐⭐⭐", 4),
        ("⭐ ⭐ ⭐", 3),
        ("⭐️⭐️⭐️", 3),  # with the emoji variation selector
        ("★★", 2),
        ("⭐⭐⭐⭐⭐ merci", 5),
        ("5 ⭐", 5),
        ("4 merci!", 4),
        ("2 😞", 2),
        ("note: 4", 4),
        ("Ma note : 2/5", 2),
        ("5 étoiles", 5),
        ("4️⃣", 4),  # keycap emoji
        ("\uff14", 4),  # full-width digit four
        # refused: not clearly one score from 1 to 5
        ("12", None),
        ("0", None),
        ("6", None),
        ("1 ou 2", None),
        ("4-5", None),
        ("deux ou trois", None),
        ("10/10", None),  # another scale: not normalised
        ("8 sur 10", None),
        ("3,5", None),
        ("-2", None),
        ("😍🔥👌", None),  # emoji soup
        ("⭐😡", None),  # stars mixed with other emoji
        ("⭐⭐⭐⭐⭐⭐", None),
        ("4 ⭐⭐", None),
        ("un peu cher", None),
        ("2 paires commandées, elles arrivent quand ?", None),
        ("Merci beaucoup", None),
        ("", None),
        ("   ", None),
    ],
)
def test_scores_are_read_tolerantly_and_refused_when_unclear(text, score):
    assert score_parse(text) == score


def test_the_step_runs_after_keywords_and_appointments_and_before_the_inbox():
    names = [f"{s.__module__}.{s.__name__}" for s in INBOUND_STEPS]
    mine = names.index("comptoir.surveys.replies.survey_replies_apply")
    assert names.index("comptoir.compliance.replies.keywords_apply") < mine
    assert names.index("comptoir.automations.replies.appointment_replies_apply") < mine
    assert mine < names.index("comptoir.inbox.filing.conversations_receive")


def test_every_new_workspace_has_its_purchase_survey(workspace):
    survey = Survey.objects.get(workspace=workspace)
    assert survey.rule.key == "purchase_survey"
    assert (survey.low_score, survey.reply_days, survey.goodwill_offer) == (2, 7, "")


def test_the_data_migration_makes_existing_purchase_rules_surveys(workspace):
    Survey.objects.all().delete()
    migration = importlib.import_module("comptoir.surveys.migrations.0002_seed_surveys")
    migration.seed(django_apps, None)
    migration.seed(django_apps, None)  # twice: still one
    assert Survey.objects.get().rule.key == "purchase_survey"


def purchase(api, event_id: str, phone: str = PHONE, **data) -> None:
    payload = {
        "id": event_id,
        "type": "purchase.completed",
        "contact": {"phone": phone, "first_name": "Julie"},
        "data": {"order_number": f"C-{event_id}", "amount": "129.00", **data},
    }
    assert api.post("/api/v1/events", payload).status_code == 202


@pytest.fixture
def surveyed(api, workspace) -> Iterator[time_machine.Coordinates]:
    """A purchase in Lyon two days ago; its survey went out; the clock is an hour later."""
    with time_machine.travel(T0, tick=False):
        purchase(api, "p1", store="Lyon Part-Dieu")
    with time_machine.travel(SURVEYED, tick=False) as traveller:
        assert runs_fire_due().sent == 1
        traveller.shift(dt.timedelta(hours=1))
        yield traveller


def reply(channel, text: str, phone: str = PHONE) -> Message:
    assert customer_texts(channel=channel, sender=phone, text=text).status == 200
    return Message.objects.filter(direction=Direction.IN).latest("created_at")


def conversation(message: Message) -> Conversation:
    return Conversation.objects.get(contact_id=message.contact_id)


def test_a_purchase_brings_the_survey(surveyed):
    run = ScheduledRun.objects.get(rule__key="purchase_survey")
    assert run.status == "sent"
    assert "De 1 à 5" in run.message.body


def test_a_good_score_is_recorded_handled_and_reported(surveyed, channel, workspace):
    webhook_endpoint_create(workspace=workspace, url="https://shop.example/hook", events=["*"])
    message = reply(channel, "5/5 merci !")
    response = SurveyResponse.objects.get()
    assert (response.score, response.store, response.message_id) == (
        5,
        "Lyon Part-Dieu",
        message.id,
    )
    assert response.run.rule.key == "purchase_survey"
    assert message.kind == "survey_answer"
    assert conversation(message).unanswered == 0  # handled: waits for nobody
    delivery = WebhookDelivery.objects.get(event_type="survey.answered")
    payload = delivery.payload
    assert (payload["score"], payload["store"], payload["low"]) == (5, "Lyon Part-Dieu", False)
    assert payload["run_id"] == str(response.run_id)
    assert payload["contact"] == {"id": str(message.contact_id), "phone": PHONE}
    assert (payload["event_id"], payload["order_number"]) == ("p1", "C-p1")
    assert not Message.objects.filter(kind__in=["survey_offer", "survey_thanks"]).exists()


def test_a_low_score_opens_a_priority_conversation_on_top(surveyed, channel, workspace):
    # Another customer has waited longer (30 min) with an ordinary question.
    with time_machine.travel(SURVEYED + dt.timedelta(minutes=30), tick=False):
        reply(channel, "Vous ouvrez lundi ?", phone=OTHER)
    message = reply(channel, "2")
    assert message.kind == "survey_low_score"
    assert SurveyResponse.objects.get().score == 2
    flagged = conversation(message)
    assert (flagged.status, flagged.unanswered) == ("open", 1)  # needs an answer
    labels = [p.label for p in conversation_parts(flagged, SURVEYED + dt.timedelta(hours=1))]
    assert "Note de l'enquête 2/5" in labels or "Survey score 2/5" in labels
    top = conversations_list(workspace).first()
    assert top is not None and top.id == flagged.id
    assert WebhookDelivery.objects.filter(event_type="survey.answered").count() == 0  # no endpoint


def test_a_low_score_and_an_urgent_word_both_show_their_reason(surveyed, channel):
    reply(channel, "2")
    flagged = conversation(reply(channel, "Et mes lunettes sont cassées"))
    assert flagged.flag in {"Note de l'enquête 2/5", "Survey score 2/5"}
    assert flagged.urgent_word == "cassees"
    flag, word, *_ = conversation_parts(flagged, SURVEYED + dt.timedelta(hours=1))
    # Urgent counts once: the flag carries the 40 points, the urgent word shows its label.
    assert (flag.label, flag.points) == (flagged.flag, 40)
    assert "cassees" in word.label and word.points == 0
    assert flagged.score_base == 40 + 2 * 5


def test_a_low_score_sends_the_goodwill_offer_to_a_consenting_customer(
    surveyed, channel, workspace
):
    grant_marketing(workspace, [PHONE])
    survey_save(
        workspace=workspace,
        rule_id=Survey.objects.get().rule_id,
        goodwill_offer="{shop} : désolés {first_name}, -15 % sur votre prochain achat.",
    )
    message = reply(channel, "⭐")
    response = SurveyResponse.objects.get()
    assert (response.score, response.offer_status, response.offer_reason) == (1, "queued", "")
    offer = response.offer_message
    assert offer.kind == "survey_offer" and offer.purpose == "marketing"
    assert offer.body.startswith("Optique Test : désolés Julie, -15 %")
    assert offer.idempotency_key == f"survey_offer:{message.id}"
    assert offer.status != Status.BLOCKED


def test_a_goodwill_offer_without_consent_is_refused_and_noted(surveyed, channel, workspace):
    survey_save(
        workspace=workspace,
        rule_id=Survey.objects.get().rule_id,
        goodwill_offer="{shop} : -15 % sur votre prochain achat.",
        thanks="Merci {first_name} pour votre note de {score}/5.",
    )
    message = reply(channel, "deux")
    response = SurveyResponse.objects.get()
    assert (response.offer_status, response.offer_reason) == ("refused", "no_consent")
    assert response.offer_message.status == Status.BLOCKED
    thanks = Message.objects.get(kind="survey_thanks")  # service: no consent needed
    assert thanks.body == "Merci Julie pour votre note de 2/5."
    assert message.kind == "survey_low_score"
    assert conversation(message).unanswered == 1


@pytest.mark.parametrize("text", ["12", "😍🔥👌🎉", "10/10", "Merci, à bientôt"])
def test_unclear_replies_go_to_the_inbox_without_a_score(surveyed, channel, text):
    message = reply(channel, text)
    assert message.kind == ""
    assert not SurveyResponse.objects.exists()
    assert conversation(message).unanswered == 1


def test_a_reply_after_the_window_goes_to_the_inbox(surveyed, channel):
    surveyed.shift(dt.timedelta(days=7))
    message = reply(channel, "4")
    assert message.kind == ""
    assert not SurveyResponse.objects.exists()
    assert conversation(message).unanswered == 1


def test_a_second_reply_does_not_overwrite_the_first(surveyed, channel):
    reply(channel, "5")
    surveyed.shift(dt.timedelta(minutes=5))
    second = reply(channel, "1")
    assert [r.score for r in SurveyResponse.objects.all()] == [5]
    assert second.kind == ""  # for staff to read
    assert conversation(second).unanswered == 1


def test_stop_is_an_opt_out_not_a_score(surveyed, channel):
    message = reply(channel, "STOP")
    assert message.kind == "keyword_opt_out"
    assert not SurveyResponse.objects.exists()


def test_a_reply_with_no_survey_sent_is_an_ordinary_message(api, channel):
    with time_machine.travel(T0, tick=False):
        purchase(api, "p1")  # the survey is two days away
        assert reply(channel, "5").kind == ""
    assert not SurveyResponse.objects.exists()


def test_any_rule_can_be_a_survey(api, workspace, channel):
    rule = AutomationRule.objects.get(workspace=workspace, key="order_ready")
    survey_save(workspace=workspace, rule_id=rule.id, low_score=3)
    with time_machine.travel(T0, tick=False):
        payload = {
            "id": "o1",
            "type": "order.ready",
            "contact": {"phone": PHONE},
            "data": {"order_number": "C-1", "place": "Annecy"},
        }
        assert api.post("/api/v1/events", payload).status_code == 202
        message = reply(channel, "3 bof")
    response = SurveyResponse.objects.get()
    assert (response.score, response.store, response.survey.rule_id) == (3, "Annecy", rule.id)
    assert message.kind == "survey_low_score"  # 3 is low for this survey


def test_a_batch_of_replies_costs_the_same_few_queries(api, workspace, channel):
    phones = [f"+336123450{i:02d}" for i in range(12)]
    with time_machine.travel(T0, tick=False):
        for i, phone in enumerate(phones):
            purchase(api, f"p{i}", phone=phone, store=f"Store {i % 3}")
    counted: list[int] = []

    def measured(messages):
        queries: list[str] = []

        def count(execute, sql, params, many, context):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            replies.survey_replies_apply(messages)
        counted.append(len(queries))

    index = INBOUND_STEPS.index(replies.survey_replies_apply)
    INBOUND_STEPS[index] = measured  # the real step, its queries counted
    try:
        with time_machine.travel(SURVEYED + dt.timedelta(hours=1), tick=False):
            assert runs_fire_due().sent == len(phones)
            for size, batch in ((3, phones[:3]), (9, phones[3:])):
                events = [
                    InboundMessage(f"in-{p}", p, channel.address, "2" if i % 2 else "5")
                    for i, p in enumerate(batch)
                ]
                memo_forget()  # both batches read the workspace's memos afresh
                events_store(channel=channel, events=events)
                assert SurveyResponse.objects.filter(contact__phone__in=batch).count() == size
    finally:
        INBOUND_STEPS[index] = replies.survey_replies_apply
    assert counted[0] == counted[1], counted
    assert counted[0] <= 8, counted  # 6 seen: runs, insert, check, 2 kinds, webhooks (memo)


def test_other_workspaces_never_see_the_responses(surveyed, channel, other_workspace):
    reply(channel, "4")
    assert SurveyResponse.objects.for_workspace(other_workspace).count() == 0
    assert workspace_create(name="Troisième", region="FR").surveys.count() == 1
