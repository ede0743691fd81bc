"""The full send pipeline against the sandbox, side by side with a raw adapter loop.

Pipeline: `messages_send` (what the API calls) in batches → the dispatcher in embedded
worker threads → the sandbox adapter → delivery receipts through the signed webhook
handler → `delivered`. Raw loop: only the adapter's `send_many` calls, same batch size.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from huey.contrib.djhuey import HUEY

from comptoir.channels.models import Channel
from comptoir.core.embedded import start_embedded_worker
from comptoir.messaging.models import Message, Status
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.providers.base import OutgoingMessage
from comptoir.providers.registry import provider_type
from comptoir.sandbox.models import CarrierMessage
from comptoir.workspaces.models import Workspace
from comptoir.workspaces.services import workspace_create

BODY = "Optique Lumière : vos lunettes sont prêtes, passez quand vous voulez."


@dataclass
class Round:
    raw: float  # messages/s
    enqueue: float  # messages/s for the API-level enqueue alone
    sent: float  # messages/s until all sent
    delivered: float  # messages/s until all delivered


def _phones(count: int, offset: int) -> list[str]:
    # Valid French mobiles, distinct per message: each send also creates its contact.
    return [f"+336{(offset + i) % 100_000_000:08d}" for i in range(count)]


def _sandbox(workspace: Workspace) -> Channel:
    channel = Channel.objects.get(workspace=workspace, provider="sandbox")
    channel.config = {"receipt_delay": 0.0}
    channel.rate_limit = None
    channel.save()
    return channel


def raw_loop(channel: Channel, count: int, batch: int) -> float:
    ptype = provider_type(channel.provider)
    # Receipts far off: the raw loop measures the submits alone.
    config = dataclasses.replace(channel.as_config(), config={"receipt_delay": 3600.0})
    messages = [
        OutgoingMessage(f"raw-{time.time_ns()}-{i}", phone, config.address, BODY, "ucs2", 2)
        for i, phone in enumerate(_phones(count, 10_000_000))
    ]
    start = time.perf_counter()
    for i in range(0, count, batch):
        ptype.send_many(config, messages[i : i + batch])
    elapsed = time.perf_counter() - start
    CarrierMessage.objects.filter(channel_uuid=channel.id).delete()
    return count / elapsed


def pipeline(
    workspace: Workspace, channel: Channel, count: int, offset: int
) -> tuple[float, float, float]:
    phones = _phones(count, offset)
    start = time.perf_counter()
    for i in range(0, count, 500):
        messages_send(
            workspace=workspace,
            requests=[SendRequest(p, BODY, "transactional") for p in phones[i : i + 500]],
        )
    enqueued = time.perf_counter() - start
    sent_at = None
    outstanding = Message.objects.filter(workspace=workspace).exclude(
        status__in=[Status.DELIVERED, Status.FAILED, Status.BLOCKED]
    )
    deadline = time.monotonic() + max(120, count / 50)
    while time.monotonic() < deadline:
        if (
            sent_at is None
            and not outstanding.filter(status__in=[Status.QUEUED, Status.SENDING]).exists()
        ):
            sent_at = time.perf_counter() - start
        if not outstanding.exists():
            break
        time.sleep(0.02)
    else:
        raise RuntimeError(
            f"not all delivered in time: {outstanding.count()} of {count} outstanding"
        )
    delivered = time.perf_counter() - start
    return count / enqueued, count / (sent_at or delivered), count / delivered


def run(*, messages: int, rounds: int, workers: int, keep: bool) -> list[Round]:
    workspace = workspace_create(name=f"Benchmark {time.strftime('%Y-%m-%d %H:%M:%S')}")
    channel = _sandbox(workspace)
    consumer = start_embedded_worker(workers)
    results = []
    try:
        for index in range(rounds):
            raw = raw_loop(channel, messages, settings.COMPTOIR_DISPATCH_BATCH)
            enqueue, sent, delivered = pipeline(workspace, channel, messages, index * messages)
            results.append(Round(raw, enqueue, sent, delivered))
    finally:
        consumer.stop(graceful=True)
        if not keep:
            CarrierMessage.objects.filter(channel_uuid=channel.id).delete()
            Message.objects.filter(workspace=workspace).delete()
            workspace.delete()
    return results


def median(rounds: list[Round], name: str) -> float:
    return statistics.median(getattr(r, name) for r in rounds)


def describe() -> str:
    return f"{connection.vendor} + {type(HUEY).__name__}"
