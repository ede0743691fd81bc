"""Sends through the Twilio adapter against a local server that answers like Twilio.

Two figures per round, against `comptoir.providers.twilio.peer` on loopback (a
ThreadingHTTPServer in this process, so it shares the cores with the sender):

- adapter: `send_many` in the dispatcher's chunk size, over the channel's kept-alive
  connections: what the adapter alone sustains;
- pipeline: `messages_send` (what the API calls) → the dispatcher in embedded worker
  threads → the adapter → every message `sent` with its Twilio sid.

The server and the network are not Twilio's: the figures measure our side (HTTP client,
connection reuse, dispatcher, database), not Twilio's latency. The issue's target for
the adapter is 500 sends/s with connection reuse.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

from django.db import connection
from huey.contrib.djhuey import HUEY

from comptoir.channels.models import Channel
from comptoir.channels.services import channel_create
from comptoir.core.embedded import start_embedded_worker
from comptoir.messaging.models import Message, Status
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.providers.base import OutgoingMessage
from comptoir.providers.registry import provider_type
from comptoir.providers.twilio.peer import TwilioPeer, twilio_peer
from comptoir.providers.twilio.rest import pools_close
from comptoir.providers.twilio.type import MAX_CONNECTIONS
from comptoir.workspaces.models import Workspace
from comptoir.workspaces.services import workspace_create

TARGET = 500.0  # sends per second, the aim for the adapter
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-token-not-a-secret"
SENDER = "+33639980042"
BODY = "Optique Lumière : vos lunettes sont prêtes, passez quand vous voulez."
DEFAULTS: dict[str, Any] = {
    "messages": 2000,
    "connections": 4,
    "rounds": 3,
    "workers": 2,
    "pipeline": True,
    "keep": False,
}


@dataclass
class Round:
    adapter: float  # sends/s
    pipeline: float | None  # sends/s until all sent, None when not measured
    connections: int  # TCP connections the server accepted during the round


def options_checked(options: dict[str, Any]) -> dict[str, Any]:
    """The options with defaults; a ValueError naming the option when one is out of range."""
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))}")
    merged = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    for name, low, high in (
        ("messages", 1, 1_000_000),
        ("rounds", 1, 100),
        ("workers", 1, 64),
        ("connections", 1, MAX_CONNECTIONS),
    ):
        value = merged[name]
        if not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return merged


def _phones(count: int, offset: int) -> list[str]:
    # Valid French mobiles, distinct per message: the pipeline creates each contact.
    return [f"+336{(offset + i) % 100_000_000:08d}" for i in range(count)]


def adapter_round(channel: Channel, peer: TwilioPeer, count: int) -> tuple[float, int]:
    ptype = provider_type("twilio")
    config = channel.as_config()
    messages = [
        OutgoingMessage(f"bench-{i}", phone, "", BODY, "gsm7", 1)
        for i, phone in enumerate(_phones(count, 50_000_000))
    ]
    before = peer.connections
    start = time.perf_counter()
    for i in range(0, count, ptype.batch_size):
        results = ptype.send_many(config, messages[i : i + ptype.batch_size])
        failed = [r for r in results if r.provider_id == ""]
        if failed:
            raise RuntimeError(f"the adapter did not send: {failed[0].reason}")
    elapsed = time.perf_counter() - start
    return count / elapsed, peer.connections - before


def pipeline_round(workspace: Workspace, channel: Channel, count: int, offset: int) -> float:
    phones = _phones(count, offset)
    start = time.perf_counter()
    for i in range(0, count, 500):
        messages_send(
            workspace=workspace,
            requests=[
                SendRequest(p, BODY, "transactional", channel=str(channel.id))
                for p in phones[i : i + 500]
            ],
        )
    pending = Message.objects.filter(channel=channel, status__in=[Status.QUEUED, Status.SENDING])
    deadline = time.monotonic() + max(60.0, count / 50)
    while pending.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not all sent in time: {pending.count()} of {count} left")
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    not_sent = Message.objects.filter(channel=channel).exclude(status=Status.SENT).count()
    if not_sent:
        raise RuntimeError(f"{not_sent} messages were not sent")
    return count / elapsed


def measure(options: dict[str, Any]) -> list[Round]:
    opts = options_checked(options)
    workspace = workspace_create(name=f"Benchmark Twilio {time.strftime('%Y-%m-%d %H:%M:%S')}")
    results = []
    with twilio_peer(ACCOUNT_SID, AUTH_TOKEN, record=False) as peer:
        channel = channel_create(
            workspace=workspace,
            provider="twilio",
            name="Twilio (benchmark)",
            address=SENDER,
            config={
                "account_sid": ACCOUNT_SID,
                "api_base_url": peer.url,
                "connections": opts["connections"],
            },
            secrets={"auth_token": AUTH_TOKEN},
        )
        consumer = start_embedded_worker(opts["workers"]) if opts["pipeline"] else None
        try:
            for index in range(opts["rounds"]):
                adapter, opened = adapter_round(channel, peer, opts["messages"])
                pipeline = None
                if opts["pipeline"]:
                    offset = index * opts["messages"]
                    pipeline = pipeline_round(workspace, channel, opts["messages"], offset)
                results.append(Round(adapter, pipeline, opened))
        finally:
            if consumer is not None:
                consumer.stop(graceful=True)
            pools_close()
            if not opts["keep"]:
                Message.objects.filter(workspace=workspace).delete()
                workspace.delete()
    return results


def run(options: dict[str, Any]) -> list[str]:
    """Measure and return the lines to print (figures are reported, never asserted)."""
    opts = options_checked(options)
    rounds = measure(opts)
    adapter = statistics.median(r.adapter for r in rounds)
    lines = [
        f"twilio: {opts['messages']:,} messages x {opts['rounds']} round(s) against a local "
        f"Twilio-like server, {opts['connections']} connection(s), {connection.vendor} + "
        f"{type(HUEY).__name__}, {os.cpu_count()} cores",
        f"  adapter send_many       {adapter:>10,.0f} sends/s (median; rounds: "
        + ", ".join(f"{r.adapter:,.0f}" for r in rounds)
        + ")",
        "  connections opened      "
        + ", ".join(str(r.connections) for r in rounds)
        + " per round (kept alive between batches)",
    ]
    if opts["pipeline"]:
        pipeline = statistics.median(r.pipeline or 0.0 for r in rounds)
        lines.append(
            f"  pipeline, all sent      {pipeline:>10,.0f} sends/s (median; "
            f"{opts['workers']} worker threads)"
        )
    verdict = "met" if adapter >= TARGET else "NOT met"
    lines.append(f"  target >= {TARGET:,.0f} sends/s (adapter): {verdict}")
    return lines
