"""Self-profiling by text: the answer parser, sending the question, the inbound step."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from comptoir.channels.models import Channel
from comptoir.contacts.models import Contact
from comptoir.core.errors import NotFound, ValidationError
from comptoir.inbox.filing import conversations_receive
from comptoir.inbox.models import Conversation
from comptoir.messaging.inbound import INBOUND_STEPS, events_store_many
from comptoir.messaging.models import Direction, Message, Purpose, Status
from comptoir.providers.base import InboundMessage
from comptoir.sandbox.carrier import customer_texts
from comptoir.segments.models import ProfilingQuestion, ProfilingSend
from comptoir.segments.profiling import (
    ANSWER_KIND,
    QUESTION_KIND,
    _options,
    answer_parse,
    options_clean,
    profiling_answers_apply,
    profiling_question_create,
    profiling_send,
)
from comptoir.segments.query import segment_count
from comptoir.workspaces.models import Workspace
from tests.conftest import grant_marketing

MONDAY_MORNING = dt.datetime(2026, 11, 23, 10, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
OPTIONS = [
    {"number": 1, "name": "gold", "words": ["or", "doré"]},
    {"number": 2, "name": "silver", "words": ["argent"]},
    {"number": 3, "name": "watches", "words": ["montre", "watch"]},
    {"number": 4, "name": "white gold", "words": ["or blanc"]},
]
PARSE = _options(options_clean(OPTIONS))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", ["gold"]),
        ("1 et 3", ["gold", "watches"]),
        ("1,3", ["gold", "watches"]),
        ("1, 3.", ["gold", "watches"]),
        ("13", ["gold", "watches"]),
        ("3 1 3", ["watches", "gold"]),
        ("gold", ["gold"]),
        ("Or", ["gold"]),
        ("OR !", ["gold"]),
        ("Doré", ["gold"]),
        ("2 silver", ["silver"]),
        ("1 gold, 2 silver", ["gold", "silver"]),
        ("gold and silver", ["gold", "silver"]),
        ("Argent et montres", ["silver", "watches"]),
        ("Or blanc", ["white-gold"]),
        ("white gold", ["white-gold"]),
        ("4", ["white-gold"]),
        ("or et or blanc", ["gold", "white-gold"]),
        ("", None),
        ("   ", None),
        ("et", None),
        ("5", None),
        ("0", None),
        ("1 silver", None),  # a number and another option's name: not sure, not an answer
        ("Bonjour, je passe à 3h", None),
        ("gold please", None),
        ("STOP", None),
        ("15", None),
    ],
)
def test_answers_are_read_tolerantly_and_nothing_else_is(text: str, expected: Any) -> None:
    found = answer_parse(text, PARSE)
    assert (None if found is None else [o.name for o in found]) == expected


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ([], "options", "1 to 20"),
        ("1 gold", "options", "1 to 20"),
        ([{"number": 0, "name": "gold"}], "options.0.number", "1 to 99"),
        ([{"number": 1, "name": "!!"}], "options.0.name", "short name"),
        ([{"number": 1, "name": "gold", "colour": "x"}], "options.0", "number, name"),
        ([{"number": 1, "name": "gold", "words": "or"}], "options.0.words", "list"),
        (
            [{"number": 1, "name": "gold"}, {"number": 1, "name": "silver"}],
            "options.1",
            "already means option 1",
        ),
        (
            [{"number": 1, "name": "gold", "words": ["or"]}, {"number": 2, "name": "or"}],
            "options.1",
            "“or” already means option 1",
        ),
    ],
)
def test_bad_options_are_refused_with_the_option_named(
    options: Any, field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        options_clean(options)
    assert caught.value.field == field
    assert words in caught.value.message


@pytest.fixture
def morning() -> Any:
    with time_machine.travel(MONDAY_MORNING, tick=False) as traveller:
        yield traveller


@pytest.fixture
def question(workspace: Workspace) -> ProfilingQuestion:
    return profiling_question_create(
        workspace=workspace,
        name="Interests",
        text="Qu'aimez-vous ? Répondez 1 or, 2 argent, 3 montres.",
        options=OPTIONS,
    )


CUSTOMERS = ["+33612340001", "+33612340002", "+33612340003"]


def _contacts(workspace: Workspace) -> dict[str, Contact]:
    return {c.phone: c for c in Contact.objects.filter(workspace=workspace)}


def test_sending_the_question_queues_marketing_texts_and_records_who_got_it(
    workspace: Workspace, question: ProfilingQuestion, morning: Any
) -> None:
    grant_marketing(workspace, CUSTOMERS[:2])
    silent = Contact.objects.create(workspace=workspace, phone=CUSTOMERS[2])  # no consent
    contacts = list(_contacts(workspace).values())

    assert profiling_send(question, contacts) == 2

    messages = Message.objects.filter(workspace=workspace, kind=QUESTION_KIND)
    assert {m.purpose for m in messages} == {Purpose.MARKETING}
    assert messages.get(contact=silent).status == Status.BLOCKED
    sends = ProfilingSend.objects.filter(question=question)
    assert {s.contact.phone for s in sends} == set(CUSTOMERS[:2])
    assert all(s.message is not None and s.message.status == Status.QUEUED for s in sends)
    # Sent again the same day (a retry): the same messages, no second text, no new record.
    assert profiling_send(question, contacts) == 0
    assert messages.count() == 3


def test_replies_become_interest_tags_and_are_marked_as_answers(
    workspace: Workspace, channel: Channel, question: ProfilingQuestion, morning: Any
) -> None:
    grant_marketing(workspace, CUSTOMERS)
    contacts = _contacts(workspace)
    profiling_send(question, [contacts[CUSTOMERS[0]], contacts[CUSTOMERS[1]]])
    morning.shift(dt.timedelta(hours=1))

    customer_texts(channel=channel, sender=CUSTOMERS[0], text="1 et 3")
    customer_texts(channel=channel, sender=CUSTOMERS[1], text="Quand ouvrez-vous ?")
    customer_texts(channel=channel, sender=CUSTOMERS[2], text="2")  # never asked

    anne, bob, chloe = (contacts[p] for p in CUSTOMERS)
    assert set(anne.tags.values_list("name", flat=True)) == {"interest:gold", "interest:watches"}
    assert not bob.tags.exists() and not chloe.tags.exists()
    inbound = Message.objects.filter(workspace=workspace, direction=Direction.IN)
    assert inbound.get(contact=anne).kind == ANSWER_KIND
    assert inbound.get(contact=bob).kind == ""  # left to the inbox
    assert inbound.get(contact=chloe).kind == ""
    send = ProfilingSend.objects.get(contact=anne)
    assert send.answered_at is not None
    assert send.answer_tags == ["interest:gold", "interest:watches"]
    # The interest is a segment condition from now on.
    definition = [{"kind": "interest", "interest": "watches"}]
    assert segment_count(definition, workspace) == 1

    # A second answer adds to the first; a STOP is the keyword step's, never an answer.
    customer_texts(channel=channel, sender=CUSTOMERS[0], text="Argent")
    customer_texts(channel=channel, sender=CUSTOMERS[1], text="STOP")
    assert anne.tags.count() == 3
    assert inbound.get(contact=bob, body="STOP").kind.startswith("keyword_")
    assert not bob.tags.exists()


def test_answers_count_only_within_the_question_s_days(
    workspace: Workspace, channel: Channel, question: ProfilingQuestion, morning: Any
) -> None:
    grant_marketing(workspace, CUSTOMERS[:1])
    profiling_send(question, list(_contacts(workspace).values()))
    morning.shift(dt.timedelta(days=question.answer_days, hours=1))

    customer_texts(channel=channel, sender=CUSTOMERS[0], text="1")

    message = Message.objects.get(workspace=workspace, direction=Direction.IN)
    assert message.kind == ""
    assert not Contact.objects.get(phone=CUSTOMERS[0]).tags.exists()


def test_the_step_runs_before_the_inbox_files_the_message() -> None:
    assert INBOUND_STEPS.index(profiling_answers_apply) < INBOUND_STEPS.index(conversations_receive)


def test_an_answer_does_not_wait_in_the_inbox_but_a_question_does(
    workspace: Workspace, channel: Channel, question: ProfilingQuestion, morning: Any
) -> None:
    grant_marketing(workspace, CUSTOMERS[:1])
    profiling_send(question, list(_contacts(workspace).values()))
    customer_texts(channel=channel, sender=CUSTOMERS[0], text="1")
    conversation = Conversation.objects.get(workspace=workspace)
    assert conversation.unanswered == 0
    customer_texts(channel=channel, sender=CUSTOMERS[0], text="1 c'est quoi ?")
    conversation.refresh_from_db()
    assert conversation.unanswered == 1


def test_a_batch_of_several_workspaces_costs_a_few_queries_per_workspace(
    workspace: Workspace, other_workspace: Workspace, morning: Any
) -> None:
    channels = []
    for shop in (workspace, other_workspace):
        asked = profiling_question_create(
            workspace=shop, name="Interests", text="1 or, 2 argent", options=OPTIONS[:2]
        )
        phones = [f"+3361234{n:04d}" for n in range(20)]
        grant_marketing(shop, phones)
        profiling_send(asked, list(_contacts(shop).values()))
        channels.append(Channel.objects.get(workspace=shop, provider="sandbox"))
    morning.shift(dt.timedelta(minutes=5))
    items = [
        (
            channel,
            [
                InboundMessage(f"{channel.id}-{n}", f"+3361234{n:04d}", channel.address, text)
                for n, text in enumerate(["1 et 2", "argent", "bonjour"] * 6)
            ],
        )
        for channel in channels
    ]

    with CaptureQueriesContext(connection) as queries:
        events_store_many(items)
    ours = [q["sql"] for q in queries if "profilingsend" in q["sql"].lower()]
    assert len(ours) <= 2 * 2  # read and update the sends, per workspace

    for shop in (workspace, other_workspace):
        tagged = Contact.objects.filter(workspace=shop, tags__name="interest:silver").count()
        assert tagged == 12  # "1 et 2" and "argent", six of each
        assert Message.objects.filter(workspace=shop, kind=ANSWER_KIND).count() == 12
        # Tags stay in their workspace.
        assert not Contact.objects.filter(workspace=shop, tags__workspace__in=[
            w for w in (workspace, other_workspace) if w != shop
        ]).exists()  # fmt: skip


def test_a_question_goes_only_to_its_own_workspace_s_contacts(
    workspace: Workspace, other_workspace: Workspace, question: ProfilingQuestion, morning: Any
) -> None:
    grant_marketing(other_workspace, CUSTOMERS[:1])
    stranger = Contact.objects.get(workspace=other_workspace)
    with pytest.raises(NotFound, match=f"No contact with id {stranger.id}"):
        profiling_send(question, [stranger])
    assert not Message.objects.filter(contact=stranger).exists()
    assert not ProfilingSend.objects.exists()
