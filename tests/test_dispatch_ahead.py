"""The next batch is claimed while one is with the provider; one claimed ahead that will
not go (the run stops) goes back to the queue, its attempt uncounted."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from comptoir.channels.models import Channel
from comptoir.channels.services import channel_create
from comptoir.dispatch.dispatcher import dispatch_channel
from comptoir.messaging.models import Message, Status
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.providers.base import ChannelConfig, Outcome, OutgoingMessage, SendResult
from comptoir.providers.registry import provider_types
from comptoir.providers.sandbox.type import SandboxType
from comptoir.sandbox.models import CarrierMessage

BATCH = 20
# What the first batch's answer is: "sent", "throttled" or "raise".
FIRST: dict[str, str] = {"answer": "sent"}
SEEN: list[int] = []  # for each batch handed over: messages `sending` on the channel then


def _sending() -> int:
    return Message.objects.filter(status=Status.SENDING).count()


class SlowSandbox(SandboxType):
    """The sandbox, whose first batch stays with the "provider" until the dispatcher has
    claimed the next one (or 5 s have passed: it never will, if it does not claim ahead)."""

    code = "slow"
    name = "Sandbox answering slowly (tests)"

    def send_many(
        self, channel: ChannelConfig, messages: Sequence[OutgoingMessage]
    ) -> list[SendResult]:
        first = not SEEN
        if first:
            deadline = time.monotonic() + 5
            while _sending() < 2 * BATCH and time.monotonic() < deadline:
                time.sleep(0.01)
        SEEN.append(_sending())
        if first and FIRST["answer"] == "raise":
            raise RuntimeError("adapter bug")
        if first and FIRST["answer"] == "throttled":
            slow_down = SendResult(Outcome.THROTTLED, error_code="88", reason="slow down")
            return [slow_down for _ in messages]
        return super().send_many(channel, messages)


@pytest.fixture
def slow(workspace, channel, settings, monkeypatch):
    settings.COMPTOIR_PROVIDERS = [
        *settings.COMPTOIR_PROVIDERS,
        "tests.test_dispatch_ahead.SlowSandbox",
    ]
    provider_types.cache_clear()
    SEEN.clear()
    FIRST["answer"] = "sent"
    # Queued without waking the dispatcher (Huey runs tasks at once in tests).
    monkeypatch.setattr("comptoir.messaging.outbox.wake_after_commit", lambda channel_id: None)
    Channel.objects.filter(id=channel.id).update(is_default=False)
    created = channel_create(workspace=workspace, provider="slow", name="Slow", config={})
    Channel.objects.filter(id=created.id).update(is_default=True)
    yield created
    provider_types.cache_clear()


def queue(workspace, count: int) -> list[Message]:
    requests = [SendRequest(f"+336{n:08d}", f"Rendez-vous {n}") for n in range(count)]
    return [e.message for e in messages_send(workspace=workspace, requests=requests)]


def history(message: Message) -> list[tuple[str, str]]:
    return list(message.transitions.order_by("at", "id").values_list("status", "code"))


@pytest.mark.django_db(transaction=True)
def test_the_next_batch_is_claimed_while_one_is_with_the_provider(workspace, slow):
    messages = queue(workspace, 3 * BATCH)
    report = dispatch_channel(slow.id, batch=BATCH)
    assert report.sent == 3 * BATCH
    # The first batch was answered only once the second was claimed (and `sending`).
    assert SEEN[0] == 2 * BATCH
    carrier = CarrierMessage.objects.filter(channel_uuid=slow.id)
    assert carrier.count() == carrier.values("reference").distinct().count() == 3 * BATCH
    assert {m.status for m in Message.objects.filter(id__in=[m.id for m in messages])} == {
        Status.SENT
    }
    assert [s for s, _ in history(messages[-1])] == ["queued", "sending", "sent"]


@pytest.mark.django_db(transaction=True)
def test_a_batch_claimed_ahead_goes_back_when_the_provider_throttles(workspace, slow):
    FIRST["answer"] = "throttled"
    messages = queue(workspace, 3 * BATCH)
    report = dispatch_channel(slow.id, batch=BATCH)
    assert report.retry_in > 0  # the run stopped at the provider's word
    assert not Message.objects.filter(status=Status.SENDING).exists()
    first, ahead, never = messages[:BATCH], messages[BATCH : 2 * BATCH], messages[2 * BATCH :]
    ahead_now = Message.objects.get(id=ahead[0].id)
    # Claimed and marked `sending` ahead, never handed over: queued again, no attempt used.
    assert (ahead_now.status, ahead_now.attempts, ahead_now.claim_token) == (Status.QUEUED, 0, None)
    assert history(ahead_now) == [
        ("queued", ""),
        ("sending", ""),
        ("queued", "not_sent"),
    ]
    assert Message.objects.get(id=first[0].id).status == Status.QUEUED  # throttled: retried
    assert [s for s, _ in history(never[0])] == ["queued"]
    # Later, everything goes, once each at the provider.
    FIRST["answer"] = "sent"
    Message.objects.update(send_at=Message.objects.get(id=first[0].id).created_at)
    dispatch_channel(slow.id, batch=BATCH)
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENT}
    carrier = CarrierMessage.objects.filter(channel_uuid=slow.id)
    assert carrier.count() == carrier.values("reference").distinct().count() == 3 * BATCH


@pytest.mark.django_db(transaction=True)
def test_a_batch_claimed_ahead_goes_back_when_the_adapter_breaks(workspace, slow):
    FIRST["answer"] = "raise"
    messages = queue(workspace, 3 * BATCH)
    dispatch_channel(slow.id, batch=BATCH)
    statuses = [Message.objects.get(id=m.id).status for m in messages]
    # The broken batch may be at the provider: `sending`, for the reaper to settle.
    assert statuses[:BATCH] == [Status.SENDING] * BATCH
    # The one claimed ahead never left: queued again, its attempt uncounted.
    assert statuses[BATCH:] == [Status.QUEUED] * (2 * BATCH)
    assert Message.objects.get(id=messages[BATCH].id).attempts == 0
    assert not CarrierMessage.objects.filter(channel_uuid=slow.id).exists()
