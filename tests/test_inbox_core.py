"""The inbox's core: conversations filed from the inbound path, replies, calls, text-back."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
import time_machine
from django.apps import apps as django_apps

from comptoir.core.errors import ValidationError
from comptoir.inbox.calls import TEXTBACK
from comptoir.inbox.models import Conversation, ConversationEvent, ConversationStatus, EventKind
from comptoir.inbox.priority import score_parts
from comptoir.inbox.services import (
    ReplyRefused,
    conversation_reply,
    conversation_set_status,
    conversations_list,
    rescore,
)
from comptoir.messaging.models import Message, Status
from comptoir.sandbox.carrier import customer_calls, customer_texts

PARIS_OPEN = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # Monday 11:00 in Paris
PARIS_NIGHT = dt.datetime(2026, 11, 23, 22, 0, tzinfo=dt.UTC)  # Monday 23:00 in Paris


def test_a_new_number_becomes_a_prospect_with_an_open_conversation(workspace, channel):
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour, mes lunettes ?")
    conversation = Conversation.objects.get(workspace=workspace)
    assert conversation.contact.is_prospect
    assert conversation.status == ConversationStatus.OPEN
    assert (conversation.unread, conversation.unanswered) == (1, 1)
    # One unanswered message is worth 5 points, i.e. 10 minutes of waiting.
    assert conversation.rank_at == conversation.waiting_since - dt.timedelta(minutes=10)


def test_urgent_words_and_unanswered_messages_raise_the_score(workspace, channel):
    customer_texts(channel=channel, sender="+33611111111", text="bonjour")
    customer_texts(channel=channel, sender="+33622222222", text="Mes lunettes sont CASSÉES !")
    first = conversations_list(workspace)[0]
    assert first.contact.phone == "+33622222222"
    assert (first.urgent_word, first.score_base) == ("cassees", 45)


@pytest.mark.parametrize(
    ("flag", "word", "expected"),
    [
        ("", "", []),
        ("Survey score 2/5", "", [("Survey score 2/5", 40)]),
        ("", "casse", [("urgent word “casse”", 40)]),
        # Both: each shows its reason, the urgent points count once.
        ("Survey score 2/5", "casse", [("Survey score 2/5", 40), ("urgent word “casse”", 0)]),
    ],
)
def test_a_flag_and_an_urgent_word_each_give_their_reason(flag, word, expected):
    now = PARIS_OPEN
    parts = score_parts(
        vip=False, urgent_word=word, flag=flag, unanswered=0, waiting_since=None, now=now
    )
    assert [(p.label, p.points) for p in parts] == expected


def flag(conversation: Conversation, reason: str) -> None:
    conversation.flag = reason
    rescore(conversation)
    conversation.save()


def test_a_flag_scores_like_an_urgent_word_and_a_reply_clears_both(workspace, channel):
    customer_texts(channel=channel, sender="+33611111111", text="Mes lunettes sont cassées")
    conversation = Conversation.objects.get(workspace=workspace)
    flag(conversation, "Survey score 1/5")
    assert conversation.score_base == 45  # urgent once, one unanswered message
    conversation_reply(conversation=conversation, body="On regarde ça tout de suite.")
    conversation.refresh_from_db()
    assert (conversation.flag, conversation.urgent_word, conversation.score_base) == ("", "", 0)


def test_closing_a_conversation_clears_its_flag(workspace, channel):
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    conversation = Conversation.objects.get(workspace=workspace)
    flag(conversation, "Alerte : sans réponse")
    assert conversation.score_base == 45
    conversation = conversation_set_status(conversation=conversation, status="closed")
    assert (conversation.flag, conversation.score_base) == ("", 0)


def test_the_migration_moves_marked_urgent_words_into_the_flag(workspace, channel):
    for n, word in enumerate(["!Survey score 2/5", "casse", "!" + "x" * 63]):
        customer_texts(channel=channel, sender=f"+3361111111{n}", text="Bonjour")
        Conversation.objects.filter(contact__phone=f"+3361111111{n}").update(urgent_word=word)
    migration = importlib.import_module("comptoir.inbox.migrations.0003_conversation_flag")

    def stored() -> list[tuple[str, str]]:
        rows = Conversation.objects.order_by("contact__phone")
        return list(rows.values_list("urgent_word", "flag"))

    migration.flags_out_of_urgent_word(django_apps, None)
    assert stored() == [("", "Survey score 2/5"), ("casse", ""), ("", "x" * 63)]
    migration.flags_out_of_urgent_word(django_apps, None)  # twice: nothing more moves
    assert stored()[0] == ("", "Survey score 2/5")
    Conversation.objects.filter(urgent_word="casse").update(flag="y" * 120)
    migration.flags_into_urgent_word(django_apps, None)
    # Back: the flag wins the one column, cut to its 64 characters.
    assert stored() == [("!Survey score 2/5", ""), ("!" + "y" * 63, ""), ("!" + "x" * 63, "")]


def test_a_reply_answers_the_conversation_and_reaches_the_handset(workspace, channel):
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    conversation = Conversation.objects.get(workspace=workspace)
    message = conversation_reply(conversation=conversation, body="Bonjour, oui !", token="t1")
    again = conversation_reply(conversation=conversation, body="Bonjour, oui !", token="t1")
    assert again.id == message.id  # a double submit sends once
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.WAITING
    assert (conversation.unanswered, conversation.rank_at) == (0, None)


def test_a_reply_to_someone_who_opted_out_is_refused_with_the_reason(workspace, channel):
    customer_texts(channel=channel, sender="+33611111111", text="STOP")
    conversation = Conversation.objects.get(workspace=workspace)
    assert conversation.unanswered == 0  # STOP is answered by the system
    with pytest.raises(ReplyRefused, match="opted out"):
        conversation_reply(conversation=conversation, body="Vraiment ?")


def test_a_missed_call_is_texted_back_once_per_day(workspace, channel):
    with time_machine.travel(PARIS_OPEN, tick=False):
        customer_calls(channel=channel, caller="+33611111111", outcome="no-answer")
        customer_calls(channel=channel, caller="+33611111111", outcome="busy")
    calls = ConversationEvent.objects.filter(kind=EventKind.CALL_MISSED).order_by("id")
    assert [c.data["textback"] for c in calls] == ["sent", "already_sent"]
    texts = Message.objects.filter(kind=TEXTBACK)
    assert texts.count() == 1
    assert "rappelons très vite" in texts.get().body
    with time_machine.travel(PARIS_OPEN + dt.timedelta(hours=25), tick=False):
        customer_calls(channel=channel, caller="+33611111111", outcome="no-answer")
    assert Message.objects.filter(kind=TEXTBACK).count() == 2


def test_outside_opening_hours_the_text_says_when_the_shop_opens(workspace, channel):
    with time_machine.travel(PARIS_NIGHT, tick=False):
        customer_calls(channel=channel, caller="+33611111111", outcome="no-answer")
    assert "mardi 09:00" in Message.objects.get(kind=TEXTBACK).body


def test_landlines_get_no_text_back_but_the_call_shows(workspace, channel):
    customer_calls(channel=channel, caller="+33199000001", outcome="no-answer")
    call = ConversationEvent.objects.get()
    assert call.data["textback"] == "not_mobile"
    assert not Message.objects.filter(kind=TEXTBACK).exists()
    assert Message.objects.filter(status=Status.BLOCKED).count() == 0


def test_a_webhook_delivered_twice_is_one_message_and_one_call(workspace, channel):
    from comptoir.channels.hooks import hook_handle
    from comptoir.sandbox.carrier import _signed

    text = {"id": "SB-dup-1", "from": "+33611111111", "to": channel.address, "text": "Allô ?"}
    call = {"id": "SB-dup-2", "from": "+33611111111", "to": channel.address, "status": "busy"}
    for _ in range(2):
        hook_handle(channel=channel, action="receive", request=_signed(channel, text, "receive"))
        hook_handle(channel=channel, action="call", request=_signed(channel, call, "call"))
    assert Message.objects.filter(direction="in").count() == 1
    assert ConversationEvent.objects.filter(kind=EventKind.CALL_MISSED).count() == 1
    conversation = Conversation.objects.get()
    assert conversation.unread == 2  # the text and the call, once each


def test_a_long_concatenated_text_is_stored_whole(workspace, channel):
    body = ("Bonjour, " + "je voudrais des nouvelles de ma commande. " * 50)[:2000]
    customer_texts(channel=channel, sender="+33611111111", text=body)
    message = Message.objects.get(direction="in")
    assert message.body == body and len(message.body) == 2000
    assert Conversation.objects.get().last_preview == body[:160]


def test_an_alphanumeric_sender_is_kept_but_cannot_be_answered(workspace, channel):
    customer_texts(channel=channel, sender="AMAZON", text="Votre colis arrive demain")
    conversation = Conversation.objects.get()
    assert (conversation.sender, conversation.contact, conversation.unanswered) == (
        "AMAZON",
        None,
        0,
    )
    assert not conversation.replyable
    with pytest.raises(ValidationError, match="cannot receive a reply"):
        conversation_reply(conversation=conversation, body="Merci")


def test_a_text_to_another_number_of_the_same_account_goes_to_that_channel(workspace, channel):
    from comptoir.channels.models import Channel

    second = Channel.objects.create(
        workspace=workspace,
        provider="sandbox",
        scheme="sms",
        address="+33639980002",
        name="Second line",
        secrets=channel.secrets,
        is_default=False,
    )
    from comptoir.channels.hooks import hook_handle
    from comptoir.sandbox.carrier import _signed

    payload = {"id": "SB-route", "from": "+33611111111", "to": "33639980002", "text": "Hello"}
    hook_handle(channel=channel, action="receive", request=_signed(channel, payload, "receive"))
    assert Message.objects.get(direction="in").channel == second


def test_a_text_never_routes_into_another_workspace(workspace, other_workspace, channel):
    from comptoir.channels.hooks import hook_handle
    from comptoir.sandbox.carrier import _signed

    theirs = other_workspace.channels.get(provider="sandbox")
    theirs.address = "+33639980077"
    theirs.save()
    payload = {"id": "SB-x", "from": "+33611111111", "to": "+33639980077", "text": "Hi"}
    hook_handle(channel=channel, action="receive", request=_signed(channel, payload, "receive"))
    assert Message.objects.get(direction="in").workspace == workspace


def test_team_broadcast_and_a_members_reply_share_the_team_thread(workspace, channel):
    from comptoir.contacts.services import contact_create
    from comptoir.inbox.models import Team, TeamMember
    from comptoir.inbox.services import conversation_for, team_broadcast
    from comptoir.inbox.thread import thread

    team = Team.objects.create(workspace=workspace, name="Boutique")
    for phone in ("+33611110001", "+33611110002"):
        TeamMember.objects.create(
            team=team, contact=contact_create(workspace=workspace, phone=phone)
        )
    sent = team_broadcast(team=team, body="Réunion à 9h demain")
    assert {r.message.kind for r in sent} == {"team_broadcast"} and len(sent) == 2
    customer_texts(channel=channel, sender="+33611110002", text="Je serai là")
    conversation = conversation_for(workspace, team=team)
    items = thread(conversation)
    assert [i.message.body for i in items] == ["Réunion à 9h demain", "Je serai là"]
    assert len(items[0].recipients) == 2
    assert not Conversation.objects.filter(contact__phone="+33611110002").exists()


def test_a_reply_in_a_team_thread_posted_twice_is_broadcast_once(workspace, channel):
    from comptoir.contacts.services import contact_create
    from comptoir.inbox.models import Team, TeamMember
    from comptoir.inbox.services import conversation_for

    team = Team.objects.create(workspace=workspace, name="Boutique")
    member = contact_create(workspace=workspace, phone="+33611110001")
    TeamMember.objects.create(team=team, contact=member)
    conversation = conversation_for(workspace, team=team)
    for _ in range(2):
        conversation_reply(conversation=conversation, body="Fermeture à 18h", token="box-1")
    assert Message.objects.filter(kind="team_broadcast").count() == 1
