"""The inbox's two benchmarks, run tiny: what they count must be right; timings never asserted."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from comptoir.benchmarks import inbound, inbox, inbox_seed
from comptoir.contacts.models import Contact
from comptoir.contacts.phones import parse_phone
from comptoir.core.management.commands.bench import inbound_lines, inbox_lines
from comptoir.inbox.models import Conversation, ConversationStatus
from comptoir.inbox.priority import base_points
from comptoir.messaging.inbound import events_store
from comptoir.messaging.models import Direction, Message
from comptoir.providers.base import InboundMessage
from comptoir.workspaces.models import Workspace


def _delivery(provider_id: str, sender: str) -> inbound.Delivery:
    return inbound.Delivery(provider_id, sender, b"")


def _text(channel, provider_id: str, sender: str) -> None:
    events_store(
        channel=channel,
        events=[InboundMessage(provider_id, sender, channel.address, "Bonjour, c'est prêt ?")],
    )


def test_the_checks_find_a_message_that_was_not_stored(workspace, channel):
    """The counting logic itself, on a known state: one id of four never arrived."""
    _text(channel, "A", "+33611111111")
    _text(channel, "B", "+33622222222")
    _text(channel, "B", "+33622222222")  # a repeat: stored once
    _text(channel, "C", "AMAZON")
    plan = inbound.Plan(
        deliveries=[
            _delivery("A", "+33611111111"),
            _delivery("B", "+33622222222"),
            _delivery("B", "+33622222222"),
            _delivery("C", "AMAZON"),
            _delivery("D", "+33633333333"),  # sent, never stored
        ],
        known=frozenset(),
        new=frozenset({"+33611111111", "+33622222222", "+33633333333"}),
    )
    load = inbound.Load(mode="test", outcomes=[("200", 0.01, 0.1)] * 4 + [("500", 0.2, 0.3)])
    found = {c.name: (c.expected, c.found) for c in inbound.checks(workspace, plan, load, 0)}
    assert found == {
        "requests answered 200": (5, 4),
        "inbound messages stored (= distinct ids sent)": (4, 3),
        "ids sent that are stored": (4, 3),
        "ids stored more than once": (0, 0),
        "ids delivered twice or more, stored once": (1, 1),
        "conversations (one per sender)": (4, 3),
        "new numbers made prospects": (3, 2),
        "unread counters add up to the messages stored": (4, 3),
    }


def test_the_plan_repeats_a_share_of_deliveries_byte_for_byte(workspace, channel):
    rng = random.Random(1)
    numbers = [f"+336{n:08d}" for n in rng.sample(range(10_000_000, 39_000_000), 50)]
    plan = inbound.plan_build(channel, numbers, count=2000, duplicates=0.1, rng=rng)
    ids = [d.provider_id for d in plan.deliveries]
    repeats = len(ids) - len(set(ids))
    assert 150 < repeats < 250  # about 10 %
    by_id = {}
    for delivery in plan.deliveries:
        assert by_id.setdefault(delivery.provider_id, delivery.raw) == delivery.raw
    assert all(parse_phone(n, region="FR").number_type == "mobile" for n in numbers)
    assert plan.known.isdisjoint(plan.new)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("concurrency", "provider"), [(None, "sandbox"), (3, "sandbox"), (3, "twilio")]
)
def test_a_tiny_inbound_run_on_the_real_server_stores_each_message_once(concurrency, provider):
    result = inbound.run(
        rate=40,
        seconds=1,
        concurrency=concurrency,
        senders=12,
        duplicates=0.2,
        connections=4,
        servers=1,
        threads=4,
        keep=False,
        provider=provider,
    )
    assert [c.name for c in result.checks if not c.ok] == []
    assert result.load.statuses == {"200": len(result.load.outcomes)}
    if concurrency is None:
        assert len(result.load.outcomes) == 40
    else:
        assert result.load.outcomes and not result.load.exhausted
    report = "\n".join(inbound_lines(result, 2))
    assert "MISMATCH" not in report and "latency p50" in report
    assert not Workspace.objects.filter(name__startswith="Inbound benchmark").exists()


def test_the_inbox_seed_is_what_the_services_would_have_left(db):
    seeded = inbox_seed.seed(conversations=60, messages_per_contact=6, staff=2)
    workspace = seeded.workspace
    conversations = Conversation.objects.for_workspace(workspace)
    assert conversations.count() == seeded.conversations == 60
    assert Message.objects.for_workspace(workspace).count() == seeded.messages == 360
    by_status = {s: conversations.filter(status=s).count() for s in ConversationStatus.values}
    assert by_status == {s: seeded.statuses.get(s, 0) for s in ConversationStatus.values}
    assert conversations.filter(assignee__isnull=False).count() == seeded.assigned
    prospects = Contact.objects.for_workspace(workspace).filter(is_prospect=True).count()
    assert prospects == seeded.prospects
    assert conversations.filter(contact__tags__name="vip").count() == seeded.vip
    for conversation in conversations.select_related("contact"):
        _assert_consistent(conversation)


def _assert_consistent(conversation: Conversation) -> None:
    """Counters, score and preview agree with the conversation's messages."""
    history = list(
        Message.objects.filter(contact=conversation.contact)
        .order_by("-created_at")
        .values_list("direction", "body", "created_at")
    )
    waiting = conversation.unanswered
    assert all(d == Direction.IN for d, _, _ in history[:waiting])
    if conversation.status != ConversationStatus.CLOSED:
        assert history[waiting][0] == Direction.OUT
    assert (conversation.last_preview, conversation.last_message_at) == history[0][1:]
    base = base_points(
        vip=conversation.vip,
        urgent=bool(conversation.urgent_word or conversation.flag),
        unanswered=waiting,
    )
    assert conversation.score_base == base
    if conversation.status == ConversationStatus.OPEN:
        assert conversation.waiting_since == history[waiting - 1][2]
        expected = conversation.waiting_since - dt.timedelta(minutes=2 * base)
        assert conversation.rank_at == expected
    else:
        assert (conversation.waiting_since, conversation.rank_at, waiting) == (None, None, 0)


def test_the_inbox_pages_answer_and_their_query_count_does_not_grow_with_the_history(db):
    small = inbox_seed.seed(conversations=20, messages_per_contact=3)
    large = inbox_seed.seed(conversations=120, messages_per_contact=8)
    timings = {t.name: t for t in inbox.measure(small, rounds=2)}
    bigger = {t.name: t for t in inbox.measure(large, rounds=2)}
    for name, timing in timings.items():
        if name.startswith("/"):
            assert (timing.status, bigger[name].status) == (200, 200), name
        assert 0 < timing.queries == bigger[name].queries, name
        assert len(timing.seconds) == 2
    assert bigger["service: conversations_list()[:51]"].status == 51  # rows + "is there more"
    report = "\n".join(inbox_lines(large, list(bigger.values()), 2))
    assert "120 conversations" in report and "960 messages" in report
    inbox.cleanup(small)
    assert not Workspace.objects.filter(id=small.workspace.id).exists()
