"""The profiling questions' pages: create a question from typed options, send it to a
segment through the outbox (consent applies), and see the answers counted per option."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.test import Client

from comptoir.channels.models import Channel
from comptoir.contacts.services import contact_create
from comptoir.messaging.models import Message
from comptoir.sandbox.carrier import customer_texts
from comptoir.segments.models import ProfilingQuestion, ProfilingSend
from comptoir.segments.services import segment_create
from comptoir.workspaces.models import Role, Workspace
from comptoir.workspaces.services import staff_add
from tests.conftest import grant_marketing

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
# A Monday at 10:00 in the shop's time zone: inside the legal hours for marketing.
MONDAY_MORNING = dt.datetime(2026, 3, 2, 10, 0, tzinfo=PARIS)
OPTIONS = "1 gold or doré, 2 silver argent, 3 watches montre montres"
CUSTOMERS = ["+33612340001", "+33612340002", "+33612340003"]


@pytest.fixture(autouse=True)
def morning() -> Iterator[None]:
    with time_machine.travel(MONDAY_MORNING, tick=False):
        yield


def _create(client: Client, **changes: str) -> Any:
    data = {"name": "Goûts", "text": "Qu'aimez-vous ? 1 or, 2 argent, 3 montres."}
    data |= {"options": OPTIONS, "answer_days": "7", **changes}
    return client.post("/segments/questions/", data)


def test_an_owner_creates_a_question_from_typed_options(
    staff_client: Client, workspace: Workspace
) -> None:
    response = _create(staff_client)
    question = ProfilingQuestion.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert response["Location"] == f"/segments/questions/{question.id}/"
    assert question.options == [
        {"number": 1, "name": "gold", "words": ["dore", "or"]},
        {"number": 2, "name": "silver", "words": ["argent"]},
        {"number": 3, "name": "watches", "words": ["montre", "montres"]},
    ]
    page = staff_client.get("/segments/questions/").content.decode()
    assert "Goûts" in page and "1 gold, 2 silver, 3 watches" in page
    assert 'id="profiling-link"' in staff_client.get("/segments/").content.decode()


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ("gold, 2 silver", "Option 1 (“gold”): start with its number"),
        ("1 gold, 1 silver", "Option 2: “1” already means option 1"),
        ("", "Give the options"),
        ("1 gold or, 2 or", "“or” already means option 1"),
    ],
)
def test_bad_options_are_refused_with_the_reason_and_nothing_saved(
    staff_client: Client, workspace: Workspace, options: str, words: str
) -> None:
    response = _create(staff_client, options=options)
    assert response.status_code == 422
    assert words in response.content.decode()
    assert 'value="Goûts"' in response.content.decode()  # what was typed is kept
    assert not ProfilingQuestion.objects.filter(workspace=workspace).exists()


def test_send_to_a_segment_then_answers_are_counted_per_option(
    staff_client: Client, workspace: Workspace, channel: Channel
) -> None:
    for phone in CUSTOMERS:
        contact_create(workspace=workspace, phone=phone, first_name="Client")
    grant_marketing(workspace, CUSTOMERS[:2])  # the third never agreed to offers
    segment = segment_create(
        workspace=workspace, name="Tout le monde", definition={"match": "all", "conditions": []}
    )
    _create(staff_client)
    question = ProfilingQuestion.objects.get(workspace=workspace)
    url = f"/segments/questions/{question.id}/"
    response = staff_client.post(f"{url}send/", {"segment": str(segment.id)}, follow=True)
    flash = response.content.decode().split('<ul class="flash">')[-1].split("</ul>")[0]
    assert "Sent to 2 customers of “Tout le monde”" in flash
    sends = ProfilingSend.objects.filter(question=question)
    assert sorted(s.contact.phone for s in sends) == CUSTOMERS[:2]
    texts = Message.objects.filter(kind="profiling_question")
    assert sorted(texts.values_list("status", "error_code")) == [
        ("blocked", "no_consent"),  # the outbox's compliance: no opt-in, no question
        ("queued", ""),
        ("queued", ""),
    ]

    customer_texts(channel=channel, sender=CUSTOMERS[0], text="1 et 3")
    customer_texts(channel=channel, sender=CUSTOMERS[1], text="Or")
    customer_texts(channel=channel, sender=CUSTOMERS[2], text="2")  # never asked: no answer
    page = staff_client.get(url).content.decode()
    assert "Sent to 2, answered by 2." in page
    counts = {
        name: page.split(f'data-option="{name}"')[1].split('class="answers">')[1].split("<")[0]
        for name in ("gold", "silver", "watches")
    }
    assert counts == {"gold": "2", "silver": "0", "watches": "1"}


def test_a_bad_segment_is_refused_and_agents_cannot_create_or_send(
    staff_client: Client, workspace: Workspace, other_workspace: Workspace
) -> None:
    _create(staff_client)
    question = ProfilingQuestion.objects.get(workspace=workspace)
    url = f"/segments/questions/{question.id}/"
    elsewhere = segment_create(
        workspace=other_workspace, name="Ailleurs", definition={"match": "all", "conditions": []}
    )
    for value in ("not-a-uuid", str(elsewhere.id)):
        response = staff_client.post(f"{url}send/", {"segment": value}, follow=True)
        assert "Choose one of this shop" in response.content.decode()
    assert not ProfilingSend.objects.exists()

    staff_add(workspace=workspace, username="agent", password="correct horse", role=Role.AGENT)
    agent = Client()
    assert agent.login(username="agent", password="correct horse")
    assert agent.get(url).status_code == 200  # staff may read the results
    assert agent.post(f"{url}send/", {"segment": "x"}).status_code == 403
    assert _create(agent, name="Autre").status_code == 404
    outsider = Client()
    staff_add(workspace=other_workspace, username="other", password="correct horse")
    assert outsider.login(username="other", password="correct horse")
    assert outsider.get(url).status_code == 404
