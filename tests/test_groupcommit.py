"""Deliveries that arrive together are stored together, and each is still stored once."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from django.test import Client

from comptoir.channels.hooks import STORE
from comptoir.contacts.models import Tag
from comptoir.contacts.services import contact_create
from comptoir.core.groupcommit import GroupCommit
from comptoir.inbox.models import Conversation, Team, TeamMember
from comptoir.messaging.inbound import events_store_many
from comptoir.messaging.models import Direction, Message
from comptoir.providers.base import InboundMessage
from comptoir.providers.sandbox.type import sign


def _together(count: int, submit: object) -> list[object]:
    """`count` threads call submit(i) at the same moment; their results, in order."""
    start = threading.Barrier(count)
    results: list[object] = [None] * count

    def one(index: int) -> None:
        start.wait()
        try:
            results[index] = submit(index)  # type: ignore[operator]
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_items_submitted_together_run_in_few_batches_and_each_gets_its_result():
    batches: list[list[int]] = []

    def work(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        time.sleep(0.02)  # a commit takes a while: others arrive meanwhile
        return [i * 10 for i in items]

    group = GroupCommit(work, max_batch=8)
    results = _together(24, group.submit)
    assert results == [i * 10 for i in range(24)]
    assert sorted(i for batch in batches for i in batch) == list(range(24))  # each ran once
    assert len(batches) < 24 and max(len(b) for b in batches) <= 8
    assert group.largest > 1


def test_one_bad_item_fails_alone_and_the_others_are_stored():
    calls: list[list[int]] = []

    def work(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        time.sleep(0.01)
        if 7 in items:
            raise ValueError("item 7 is broken")
        return list(items)

    group = GroupCommit(work, max_batch=64)
    results = _together(16, group.submit)
    assert isinstance(results[7], ValueError)
    assert [r for i, r in enumerate(results) if i != 7] == [i for i in range(16) if i != 7]
    assert [7] in calls  # retried on its own after its batch failed


def _hook(client: Client, channel, payload: bytes) -> int:
    secret = channel.as_config().secrets["webhook_secret"]
    response = client.post(
        f"/hooks/{channel.id}/receive",
        payload,
        content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE=sign(secret, payload),
        SERVER_NAME="127.0.0.1",
    )
    return response.status_code


@pytest.mark.django_db(transaction=True)
def test_concurrent_webhooks_are_each_stored_once_and_filed(workspace, channel):
    senders = [f"+3361111{n:04d}" for n in range(8)]
    payloads = [
        f'{{"id": "SBG{i % 30}", "from": "{senders[i % 8]}", "text": "message {i % 30}"}}'.encode()
        for i in range(40)  # 30 distinct ids, 10 delivered twice
    ]
    before = STORE.batches
    statuses = _together(40, lambda i: _hook(Client(), channel, payloads[i]))
    assert statuses == [200] * 40
    stored = Message.objects.filter(workspace=workspace, direction=Direction.IN)
    assert stored.count() == 30
    assert sorted(stored.values_list("provider_id", flat=True)) == sorted(
        f"SBG{i}" for i in range(30)
    )
    conversations = Conversation.objects.filter(workspace=workspace)
    assert conversations.count() == 8
    assert sum(c.unread for c in conversations) == 30
    assert STORE.batches > before


def test_a_batch_files_each_message_in_its_own_conversation(workspace, channel):
    vip = contact_create(workspace=workspace, phone="+33622220001")
    vip.tags.add(Tag.objects.create(workspace=workspace, name="VIP"))
    employee = contact_create(workspace=workspace, phone="+33622220002")
    team = Team.objects.create(workspace=workspace, name="Atelier")
    TeamMember.objects.create(team=team, contact=employee)

    def text(n: int, sender: str, body: str) -> InboundMessage:
        return InboundMessage(provider_id=f"B{n}", sender=sender, recipient="", body=body)

    reports = events_store_many(
        [
            (channel, [text(1, "+33622220001", "Bonjour"), text(2, "+33633330000", "Salut")]),
            (channel, [text(3, "+33622220001", "Mes lunettes sont cassées")]),
            (channel, [text(4, "+33622220002", "Je serai en retard"), text(1, "x", "repeat")]),
            (channel, [text(5, "LAPOSTE", "Votre colis arrive")]),
        ]
    )
    assert [len(r.received) for r in reports] == [2, 1, 1, 1]
    assert reports[2].duplicates == 1
    mine = Conversation.objects.get(workspace=workspace, contact=vip)
    assert (mine.unread, mine.unanswered, mine.vip, mine.urgent_word) == (2, 2, True, "cassees")
    assert mine.score_base == 30 + 40 + 2 * 5
    prospect = Conversation.objects.get(workspace=workspace, contact__phone="+33633330000")
    assert prospect.contact.is_prospect and not prospect.vip
    assert Conversation.objects.get(workspace=workspace, team=team).unread == 1
    assert Message.objects.get(provider_id="B4").kind == "team_reply"
    named = Conversation.objects.get(workspace=workspace, sender="LAPOSTE")
    assert (named.unread, named.unanswered) == (1, 0)
