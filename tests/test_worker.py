"""The real thing: a Huey consumer in threads on the configured queue (SQLite or Redis)."""

from __future__ import annotations

import time

import pytest
from huey.contrib.djhuey import HUEY

from comptoir.core.embedded import start_embedded_worker
from comptoir.messaging.models import Message, Status
from comptoir.messaging.outbox import SendRequest, messages_send

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def real_queue():
    """Huey out of immediate mode, on an empty queue, with consumer threads running."""
    HUEY.immediate = False
    HUEY.flush()
    consumer = start_embedded_worker(workers=2)
    yield consumer
    consumer.stop(graceful=True)
    HUEY.flush()
    HUEY.immediate = True


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_messages_travel_queued_sent_delivered_through_a_real_worker(
    workspace, channel, real_queue
):
    channel.config["receipt_delay"] = 0.2
    channel.save()
    results = messages_send(
        workspace=workspace,
        requests=[
            SendRequest(f"+3361234{i:04d}", f"Bonjour {i}", "transactional") for i in range(50)
        ],
    )
    ids = [r.message.id for r in results]
    delivered = Message.objects.filter(id__in=ids, status=Status.DELIVERED)
    assert wait_for(lambda: delivered.count() == 50), list(
        Message.objects.filter(id__in=ids).values_list("status", flat=True)
    )
    for message in delivered:
        history = list(message.transitions.order_by("at", "id").values_list("status", flat=True))
        assert history == ["queued", "sending", "sent", "delivered"]


def test_a_rate_limited_channel_keeps_its_pace(workspace, channel, real_queue):
    channel.rate_limit = 20  # segments per second
    channel.config["receipt_delay"] = 0
    channel.save()
    start = time.monotonic()
    messages_send(
        workspace=workspace,
        requests=[SendRequest(f"+3361234{i:04d}", "Hi", "conversational") for i in range(60)],
    )
    sent = Message.objects.filter(workspace=workspace, status__in=[Status.SENT, Status.DELIVERED])
    assert wait_for(lambda: sent.count() == 60, timeout=30)
    elapsed = time.monotonic() - start
    # 60 segments at 20/s with a one-second burst: at least (60 - 20) / 20 = 2 s.
    assert elapsed >= 1.9, elapsed
