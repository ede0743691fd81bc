"""Auto-answers through the real inbound path: rules, order status, the loop guard."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from comptoir.automations.models import CustomerEvent
from comptoir.automations.services import EventConflict, customer_event_record
from comptoir.channels.hooks import hook_handle
from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact
from comptoir.contacts.services import contact_create
from comptoir.core.errors import NotFound, ValidationError
from comptoir.inbox.autoanswers import auto_answer_save
from comptoir.inbox.autoreply import KIND, auto_answers_reply
from comptoir.inbox.models import AutoAnswer, Conversation, ConversationStatus, Team, TeamMember
from comptoir.inbox.services import conversation_reply, inbox_settings
from comptoir.messaging.models import Message, Status
from comptoir.sandbox.carrier import _signed, customer_texts
from comptoir.workspaces.models import Workspace
from comptoir.workspaces.services import workspace_create

MONDAY = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # Monday 11:00 in Paris
CUSTOMER = "+33611111111"
LOG = "comptoir.inbox.autoreply"


def answers(workspace: Workspace, phone: str = CUSTOMER) -> list[str]:
    """The auto-answers a number received from this workspace, oldest first."""
    rows = Message.objects.filter(workspace=workspace, kind=KIND, contact__phone=phone)
    return list(rows.order_by("created_at", "id").values_list("body", flat=True))


def skips(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().rsplit(": ", 1)[1] for r in caplog.records if r.name == LOG]


def conversation_of(workspace: Workspace, phone: str = CUSTOMER) -> Conversation:
    return Conversation.objects.get(workspace=workspace, contact__phone=phone)


@pytest.fixture
def shop(workspace: Workspace) -> Workspace:
    """The workspace with its address filled in (its default rules are seeded on first use)."""
    settings = inbox_settings(workspace)
    settings.shop_address = "12 rue des Lilas, Lyon"
    settings.save()
    return workspace


@pytest.fixture
def english(db: None) -> tuple[Workspace, Channel]:
    workspace = workspace_create(name="Bright Optics", region="GB")
    settings = inbox_settings(workspace)
    settings.shop_address = "1 High Street, Bath"
    settings.save()
    return workspace, Channel.objects.get(workspace=workspace, provider="sandbox")


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger=LOG)
    return caplog


# Default rules, in both languages


def test_a_new_workspace_gets_its_default_rules_once_in_its_language(workspace, english):
    inbox_settings(workspace)
    inbox_settings(workspace)
    rules = AutoAnswer.objects.for_workspace(workspace)
    assert [(r.name, r.position) for r in rules] == [
        ("Horaires", 0),
        ("Adresse", 1),
        ("Commande", 2),
    ]
    assert rules[0].keywords == ["horaires", "horaire", "heures d ouverture"]
    assert [r.name for r in AutoAnswer.objects.for_workspace(english[0])] == [
        "Hours",
        "Address",
        "Order",
    ]


def test_hours_are_answered_in_french_and_the_conversation_is_answered(shop, channel):
    customer_texts(channel=channel, sender=CUSTOMER, text="Quels sont vos horaires ?")
    assert answers(shop) == [
        "Bonjour, c'est Optique Test. Nos horaires : lundi 09:00-19:00; mardi 09:00-19:00; "
        "mercredi 09:00-19:00; jeudi 09:00-19:00; vendredi 09:00-19:00; samedi 09:00-19:00."
    ]
    conversation = conversation_of(shop)
    assert conversation.status == ConversationStatus.WAITING
    assert (conversation.unanswered, conversation.waiting_since) == (0, None)


def test_hours_are_answered_in_english(english):
    workspace, channel = english
    customer_texts(channel=channel, sender="+447400123457", text="What are your HOURS today?")
    (answer,) = answers(workspace, "+447400123457")
    assert answer.startswith("Hi, this is Bright Optics. Our opening hours: Monday 09:00-19:00;")


def test_the_address_is_answered_in_french_and_english(shop, channel, english):
    customer_texts(channel=channel, sender=CUSTOMER, text="C'est quoi votre adresse ?")
    assert answers(shop) == ["Optique Test vous accueille au 12 rue des Lilas, Lyon. À bientôt !"]
    workspace, channel_en = english
    customer_texts(channel=channel_en, sender="+447400123457", text="address please")
    assert answers(workspace, "+447400123457") == [
        "Bright Optics is at 1 High Street, Bath. See you soon!"
    ]


def test_no_address_filled_in_means_no_answer_rather_than_a_hole(workspace, channel, debug_log):
    customer_texts(channel=channel, sender=CUSTOMER, text="Votre adresse ?")
    assert answers(workspace) == []
    assert skips(debug_log) == ["missing_detail"]
    assert conversation_of(workspace).unanswered == 1


# Matching: whole words, anywhere, case and accents ignored


@pytest.mark.parametrize(
    ("text", "answered"),
    [
        ("HORAIRES", True),
        ("horaires?", True),
        ("vos horaires svp", True),
        ("Horaïres", True),  # accents are ignored both ways: ï is read as i
        ("Vos HEURES D'OUVERTURE ?", True),
        ("horairesvp", False),  # not a whole word
        ("leshoraires", False),
        ("heures ouverture", False),  # a phrase matches only whole
        ("bonjour", False),
    ],
)
def test_keywords_match_whole_words_ignoring_case_and_accents(shop, channel, text, answered):
    customer_texts(channel=channel, sender=CUSTOMER, text=text)
    assert len(answers(shop)) == (1 if answered else 0)


def test_the_first_matching_rule_by_position_wins(shop, channel):
    customer_texts(channel=channel, sender=CUSTOMER, text="adresse et horaires ?")
    assert answers(shop)[0].startswith("Bonjour, c'est Optique Test. Nos horaires")
    rule = AutoAnswer.objects.for_workspace(shop).get(name="Adresse")
    auto_answer_save(
        workspace=shop,
        name=rule.name,
        keywords=rule.keywords,
        answer=rule.answer,
        position=0,
        auto_answer=rule,
    )
    AutoAnswer.objects.for_workspace(shop).filter(name="Horaires").update(position=5)
    customer_texts(channel=channel, sender="+33622222222", text="adresse et horaires ?")
    assert answers(shop, "+33622222222")[0].startswith("Optique Test vous accueille")


# Order status


def test_the_latest_order_event_is_said_with_its_number(shop, channel):
    contact = contact_create(workspace=shop, phone=CUSTOMER, first_name="Léa")
    for type_, hours_ago, number in [
        ("order.confirmed", 48, "A-17"),
        ("order.ready", 2, "A-18"),
        ("order.shipped", 30, "A-16"),  # arrives last but happened earlier
        ("purchase", 1, "X"),  # not an order event
    ]:
        customer_event_record(
            workspace=shop,
            contact=contact,
            type=type_,
            occurred_at=MONDAY - dt.timedelta(hours=hours_ago),
            data={"number": number},
        )
    with time_machine.travel(MONDAY, tick=False):
        customer_texts(channel=channel, sender=CUSTOMER, text="Où en est ma commande ?")
    assert answers(shop) == [
        "Bonjour, c'est Optique Test. Votre commande n° A-18 est prête : "
        "vous pouvez venir la chercher."
    ]
    assert conversation_of(shop).status == ConversationStatus.WAITING


def test_order_status_in_english_with_tracking(english):
    workspace, channel = english
    contact = contact_create(workspace=workspace, phone="+447400123457")
    customer_event_record(
        workspace=workspace,
        contact=contact,
        type="order.shipped",
        data={"order_number": 981, "tracking_url": "https://track.example/981"},
    )
    customer_texts(channel=channel, sender="+447400123457", text="my order?")
    assert answers(workspace, "+447400123457") == [
        "Hi, this is Bright Optics. Your order #981 has been shipped. "
        "Tracking: https://track.example/981"
    ]


def test_no_order_is_said_politely_and_left_for_staff(shop, channel):
    customer_texts(channel=channel, sender=CUSTOMER, text="ma commande est arrivée ?")
    assert answers(shop) == [
        "Bonjour, c'est Optique Test. Nous n'avons trouvé aucune commande pour votre "
        "numéro ; un membre de l'équipe va vous répondre."
    ]
    conversation = conversation_of(shop)
    assert (conversation.status, conversation.unanswered) == (ConversationStatus.OPEN, 1)
    assert conversation.last_preview == "ma commande est arrivée ?"


def test_an_order_status_without_words_is_left_for_staff(shop, channel):
    contact = contact_create(workspace=shop, phone=CUSTOMER)
    customer_event_record(workspace=shop, contact=contact, type="order.lost_in_transit")
    customer_texts(channel=channel, sender=CUSTOMER, text="commande")
    assert "un membre de l'équipe va vous répondre" in answers(shop)[0]
    assert conversation_of(shop).unanswered == 1


def test_an_earlier_question_still_waits_after_an_auto_answer(shop, channel):
    customer_texts(channel=channel, sender=CUSTOMER, text="Mes lunettes sont cassées")
    customer_texts(channel=channel, sender=CUSTOMER, text="Et vos horaires ?")
    assert len(answers(shop)) == 1
    conversation = conversation_of(shop)
    assert (conversation.status, conversation.unanswered) == (ConversationStatus.OPEN, 2)
    assert conversation.urgent_word == "cassees"


# The loop guard


def test_a_sender_name_or_a_short_number_is_never_answered(shop, channel, debug_log):
    customer_texts(channel=channel, sender="AMAZON", text="Horaires de livraison")
    customer_texts(channel=channel, sender="+33800102030", text="Horaires")  # toll-free
    assert not Message.objects.filter(kind=KIND).exists()
    assert Contact.objects.get(phone="+33800102030").number_type == "toll_free"
    assert skips(debug_log) == ["not_a_person", "not_a_person"]


def test_keyword_messages_and_team_replies_are_not_answered(shop, channel, debug_log):
    customer_texts(channel=channel, sender=CUSTOMER, text="INFO horaires")  # HELP keyword
    assert Message.objects.filter(kind="help_reply").count() == 1
    employee = contact_create(workspace=shop, phone="+33633333333")
    team = Team.objects.create(workspace=shop, name="Atelier")
    TeamMember.objects.create(team=team, contact=employee)
    customer_texts(channel=channel, sender="+33633333333", text="Je ne connais pas mes horaires")
    assert not Message.objects.filter(kind=KIND).exists()
    assert skips(debug_log) == ["system_message", "system_message"]


def test_the_same_rule_is_not_repeated_until_someone_writes(shop, channel, debug_log):
    with time_machine.travel(MONDAY, tick=False) as clock:
        customer_texts(channel=channel, sender=CUSTOMER, text="horaires")
        clock.shift(dt.timedelta(minutes=6))
        customer_texts(channel=channel, sender=CUSTOMER, text="vos horaires ???")
        assert len(answers(shop)) == 1
        conversation_reply(conversation=conversation_of(shop), body="Jusqu'à 19h !")
        clock.shift(dt.timedelta(minutes=1))
        customer_texts(channel=channel, sender=CUSTOMER, text="horaires samedi ?")
        assert len(answers(shop)) == 2  # a person wrote in between
        clock.shift(dt.timedelta(minutes=11))
        customer_texts(channel=channel, sender=CUSTOMER, text="horaires dimanche ?")
        assert len(answers(shop)) == 3  # the window has passed
    assert skips(debug_log) == ["same_rule_again"]


def test_at_most_three_auto_answers_per_contact_per_hour(shop, channel, debug_log):
    with time_machine.travel(MONDAY, tick=False) as clock:
        for text in ("horaires", "adresse", "commande", "horaires ?"):
            customer_texts(channel=channel, sender=CUSTOMER, text=text)
            clock.shift(dt.timedelta(minutes=6))
        assert len(answers(shop)) == 3
        customer_texts(channel=channel, sender="+33622222222", text="horaires")
        assert len(answers(shop, "+33622222222")) == 1  # per contact
        clock.shift(dt.timedelta(minutes=50))
        customer_texts(channel=channel, sender=CUSTOMER, text="adresse ?")
        assert len(answers(shop)) == 4
    assert skips(debug_log) == ["hourly_cap"]


def test_a_text_repeated_within_minutes_is_answered_once(shop, channel, debug_log):
    with time_machine.travel(MONDAY, tick=False) as clock:
        customer_texts(channel=channel, sender=CUSTOMER, text="Horaires ?")
        clock.shift(dt.timedelta(seconds=30))
        customer_texts(channel=channel, sender=CUSTOMER, text="horaires")
    assert len(answers(shop)) == 1
    assert skips(debug_log) == ["repeated_text"]


@pytest.mark.parametrize(
    "text",
    [
        "Message automatique : vos horaires ont été notés, merci de ne pas répondre.",
        "Auto-reply: I am away, back Monday. Address below.",
        "Commande 55 expédiée. Do not reply to this message.",
        "noreply@shop.example : nouvelle commande",
    ],
)
def test_messages_that_look_automated_are_not_answered(shop, channel, debug_log, text):
    customer_texts(channel=channel, sender=CUSTOMER, text=text)
    assert answers(shop) == []
    assert skips(debug_log) == ["looks_automated"]


def test_a_replayed_webhook_answers_once(shop, channel):
    payload = {"id": "SB-replay-1", "from": CUSTOMER, "to": channel.address, "text": "HORAIRES"}
    for _ in range(3):
        hook_handle(channel=channel, action="receive", request=_signed(channel, payload, "receive"))
    assert len(answers(shop)) == 1


def test_the_switch_turns_every_rule_off(shop, channel, debug_log):
    settings = inbox_settings(shop)
    settings.auto_answers_enabled = False
    settings.save()
    customer_texts(channel=channel, sender=CUSTOMER, text="horaires")
    assert answers(shop) == []
    assert skips(debug_log) == ["disabled"]
    assert conversation_of(shop).unanswered == 1


def test_a_customer_who_opted_out_gets_no_answer(shop, channel):
    customer_texts(channel=channel, sender=CUSTOMER, text="STOP")
    customer_texts(channel=channel, sender=CUSTOMER, text="vos horaires ?")
    blocked = Message.objects.get(kind=KIND)
    assert (blocked.status, blocked.error_code) == (Status.BLOCKED, "opted_out")
    assert conversation_of(shop).unanswered == 1


def test_another_workspaces_rules_never_fire(shop, channel, other_workspace):
    auto_answer_save(
        workspace=other_workspace, name="Promo", keywords=["promo"], answer="-20 % chez nous"
    )
    customer_texts(channel=channel, sender=CUSTOMER, text="une promo ?")
    customer_texts(channel=channel, sender="+33622222222", text="horaires")
    assert not Message.objects.filter(workspace=other_workspace).exists()
    assert answers(shop) == []
    assert answers(shop, "+33622222222")[0].startswith("Bonjour, c'est Optique Test.")


def test_the_step_costs_one_query_for_a_message_no_rule_answers(shop, channel):
    customer_texts(channel=channel, sender=CUSTOMER, text="bonjour")
    message = Message.objects.select_related("contact").get(direction="in")
    message.conversation = conversation_of(shop)  # type: ignore[attr-defined]
    inbox_settings(message.conversation.workspace)  # type: ignore[attr-defined]
    with CaptureQueriesContext(connection) as queries:
        auto_answers_reply([message])
    assert len(queries) == 1  # the rules


# Saving rules: every mistake named, nothing damaged


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"answer": "Nos prix : {prix}"}, "answer", "Unknown variable {prix}"),
        ({"answer": "Statut : {order_status}"}, "answer", "Unknown variable {order_status}"),
        ({"answer": "Vos {horaires"}, "answer", "Unmatched '{'"),
        ({"answer": "  "}, "answer", "Write the answer"),
        ({"answer": "x" * 2000}, "answer", "longer than"),
        ({"topic": "order_status"}, "answer", "must say {order_status}"),
        ({"topic": "weather"}, "topic", "Unknown topic"),
        ({"keywords": []}, "keywords", "at least one keyword"),
        ({"keywords": ["horaires", "?!"]}, "keywords.1", "no letters or digits"),
        ({"keywords": ["Stop"]}, "keywords.0", "STOP is a compliance keyword"),
        ({"keywords": ["un deux trois quatre cinq six"]}, "keywords.0", "at most 5 words"),
        ({"name": ""}, "name", "name of 1 to 100"),
        ({"position": -1}, "position", "0 to 32767"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(workspace, changes, field, says):
    rule = auto_answer_save(
        workspace=workspace, name="Parking", keywords=["parking"], answer="Parking rue B."
    )
    fields = {"name": "Parking", "keywords": ["parking"], "answer": "Parking rue B."} | changes
    with pytest.raises(ValidationError, match=says.replace("{", r"\{").replace("(", r"\(")) as err:
        auto_answer_save(workspace=workspace, auto_answer=rule, **fields)
    assert err.value.field == field
    rule.refresh_from_db()
    assert (rule.keywords, rule.answer) == (["parking"], "Parking rue B.")


def test_keywords_are_stored_normalised_and_new_rules_go_last(workspace):
    inbox_settings(workspace)  # the three defaults
    rule = auto_answer_save(
        workspace=workspace,
        name="Parking",
        keywords="Parking, Où se garer ?\nPARKING",
        answer="Bonjour {first_name|}, parking rue B ({website|notre site}).",
    )
    assert rule.keywords == ["parking", "ou se garer"]
    assert rule.position == 3


def test_another_workspaces_rule_cannot_be_changed(workspace, other_workspace):
    rule = auto_answer_save(workspace=other_workspace, name="A", keywords=["a1"], answer="b")
    with pytest.raises(NotFound):
        auto_answer_save(
            workspace=workspace, name="A", keywords=["a1"], answer="x", auto_answer=rule
        )


# Customer events


def test_an_event_sent_twice_is_stored_once(workspace):
    contact = contact_create(workspace=workspace, phone=CUSTOMER)
    first, created = customer_event_record(
        workspace=workspace, contact=contact, type="order.ready", external_id="shop-1"
    )
    again, created_again = customer_event_record(
        workspace=workspace, contact=contact, type="order.ready", external_id="shop-1"
    )
    assert (created, created_again, again.id) == (True, False, first.id)
    with pytest.raises(EventConflict) as err:
        customer_event_record(
            workspace=workspace, contact=contact, type="order.shipped", external_id="shop-1"
        )
    assert err.value.field == "external_id"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"type": "Order Ready"}, "type"),
        ({"type": ""}, "type"),
        ({"occurred_at": dt.datetime(2026, 1, 1)}, "occurred_at"),  # naive on purpose
        ({"occurred_at": dt.datetime(2999, 1, 1, tzinfo=dt.UTC)}, "occurred_at"),
        ({"data": {"when": dt.date(2026, 1, 1)}}, "data"),
        ({"data": ["not", "an", "object"]}, "data"),
        ({"external_id": "x" * 101}, "external_id"),
    ],
)
def test_a_bad_event_is_refused_naming_the_field(workspace, changes, field):
    contact = contact_create(workspace=workspace, phone=CUSTOMER)
    with pytest.raises(ValidationError) as err:
        customer_event_record(
            workspace=workspace, contact=contact, **({"type": "order.ready"} | changes)
        )
    assert err.value.field == field
    assert not CustomerEvent.objects.exists()


def test_an_event_for_another_workspaces_customer_is_refused(workspace, other_workspace):
    contact = contact_create(workspace=other_workspace, phone=CUSTOMER)
    with pytest.raises(ValidationError) as err:
        customer_event_record(workspace=workspace, contact=contact, type="order.ready")
    assert err.value.field == "contact"


def test_a_rule_broken_outside_the_service_never_loses_the_message(shop, channel, caplog):
    AutoAnswer.objects.for_workspace(shop).filter(name="Horaires").update(
        answer="Horaires : {horaires_ete}", keywords=["horaires", 7]
    )
    customer_texts(channel=channel, sender=CUSTOMER, text="horaires ?")
    assert Message.objects.get(direction="in").body == "horaires ?"
    assert answers(shop) == []
    assert "Unknown variable {horaires_ete}" in caplog.text
    assert conversation_of(shop).unanswered == 1
