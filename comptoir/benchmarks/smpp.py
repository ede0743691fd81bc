"""SMPP through the full pipeline against the loopback SMSC, beside a bare client loop.

Pipeline: `messages_send` in batches of 500, from a process of its own as the web
process would (comptoir/benchmarks/enqueuer.py; `--enqueue thread` does it in this
process instead) → the dispatcher in embedded worker threads → the SMPP adapter (window
as configured) → the SMSC process → delivery receipts back over the bind → `delivered`.
Bare loop: the same client session alone, every message through the window as fast as
the SMSC answers, in the same run against the same SMSC: once untimed (the SMSC's
JIT warms up), then right before and right after each round's pipeline. The SMSC's pace
drifts between runs by up to 3x, so the share is taken round by round against the mean
of the two bare loops around it, and the median share is reported.
Then the channel gets a rate limit and the pace the SMSC saw is measured.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from django.db import connection
from huey.contrib.djhuey import HUEY

from comptoir.benchmarks.aio import run_async
from comptoir.channels.models import Channel
from comptoir.channels.services import channel_create
from comptoir.contacts.phones import parse_phone
from comptoir.contacts.services import contacts_for_phones
from comptoir.core.embedded import start_embedded_worker
from comptoir.messaging.models import Message, Status
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.providers.base import Event, OutgoingMessage
from comptoir.providers.smpp.client import Session
from comptoir.providers.smpp.config import State
from comptoir.providers.smpp.peer import PASSWORD, SYSTEM_ID, Smsc
from comptoir.providers.smpp.sessions import sessions
from comptoir.providers.smpp.type import session_config
from comptoir.workspaces.memo import memo_forget
from comptoir.workspaces.models import Workspace
from comptoir.workspaces.services import workspace_create

BODY = "Optique Lumière : vos lunettes sont prêtes, passez quand vous voulez."
TARGET_RATE = 1000.0  # submit_sm/s through the pipeline
TARGET_SHARE = 0.60  # of the bare loop
TARGET_PACE = 0.05  # a rate limit is honoured within ±5 %
DEFAULTS: dict[str, Any] = {
    "messages": 5000,
    "rounds": 3,
    "window": 10,
    "workers": 4,
    "rate": 50.0,
    "rate_seconds": 10.0,
    "keep": False,
    "enqueue": "process",  # or "thread": the API's enqueue in this process, one GIL
    "processes": 1,  # worker processes: this one, plus `comptoir worker` processes
}


@dataclass
class Round:
    before: float  # submit_sm/s of the bare loop right before this round's pipeline
    after: float  # … and right after it
    enqueue: float  # messages/s for the API-level enqueue alone
    sent: float  # messages/s from the first enqueue until all are sent
    delivered: float  # … until all are delivered (receipts stored)

    @property
    def bare(self) -> float:
        return (self.before + self.after) / 2

    @property
    def share(self) -> float:
        return self.sent / self.bare


@dataclass
class Pace:
    steady: float  # the pace after the first second (the limiter's burst): what it keeps
    overall: float  # (submits - 1) / time from the first to the last, burst included


def phones_for(count: int, offset: int) -> list[str]:
    return [f"+336{(offset + i) % 100_000_000:08d}" for i in range(count)]


async def _discard(events: list[Event]) -> None:
    return None


async def _ignore(state: State, reason: str) -> None:
    return None


def bare_loop(channel: Channel, count: int) -> float:
    """Our client alone: one session, every message through the window."""
    config = session_config(channel.as_config())
    messages = [
        OutgoingMessage(f"bare-{i}", phone, channel.address, BODY, "ucs2", 1)
        for i, phone in enumerate(phones_for(count, 50_000_000))
    ]

    async def run() -> float:
        session = Session(config, _discard, _ignore)
        session.start()
        try:
            if not await session.wait_bound(10):
                raise RuntimeError(f"bare loop could not bind: {session.reason}")
            start = time.perf_counter()
            results = await session.send_many(messages)
            elapsed = time.perf_counter() - start
        finally:
            await session.stop()
        if any(r is None or not r.provider_id for r in results):
            raise RuntimeError("bare loop: not every submit_sm was accepted")
        return count / elapsed

    return run_async(run())


def _wait(query: Any, deadline: float, what: str) -> None:
    while query.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: {query.count()} messages still outstanding")
        time.sleep(0.02)


def _enqueue_here(workspace: Workspace, count: int, offset: int) -> float:
    phones = phones_for(count, offset)
    start = time.perf_counter()
    for i in range(0, count, 500):
        messages_send(
            workspace=workspace,
            requests=[SendRequest(p, BODY, "transactional") for p in phones[i : i + 500]],
        )
    return time.perf_counter() - start


def _enqueuer(workspace: Workspace, count: int, offset: int) -> subprocess.Popen[str]:
    """The API process, loaded and waiting for "go" (its start-up is not timed)."""
    child = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "comptoir.benchmarks.enqueuer", str(workspace.id), str(count),
         str(offset)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        child.kill()
        raise RuntimeError("the enqueuing process did not start")
    return child


def _worker_process(threads: int) -> subprocess.Popen[bytes]:
    """A `comptoir worker` process on the same database and queue, bound once it starts."""
    child = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "comptoir", "worker", "--workers", str(threads)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(3.0)  # Django loaded, the consumer running, the channel bound
    return child


def pipeline(
    workspace: Workspace, count: int, offset: int, *, separate: bool
) -> tuple[float, float, float]:
    # The benchmark's workspace holds these messages and those of earlier rounds, all
    # delivered: a query on the workspace alone says when these are done (a filter on
    # 5,000 numbers, polled every 20 ms, would take the GIL from the pipeline it measures).
    mine = Message.objects.filter(workspace=workspace)
    child = _enqueuer(workspace, count, offset) if separate else None
    start = time.perf_counter()
    if child is not None:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write("go\n")
        child.stdin.flush()
        enqueued = float(child.stdout.readline())
        child.wait(10)
    else:
        enqueued = _enqueue_here(workspace, count, offset)
    deadline = time.monotonic() + max(120.0, count / 50)
    _wait(mine.filter(status__in=[Status.QUEUED, Status.SENDING]), deadline, "not all sent")
    sent = time.perf_counter() - start
    _wait(mine.exclude(status=Status.DELIVERED), deadline, "not all delivered")
    delivered = time.perf_counter() - start
    return count / enqueued, count / sent, count / delivered


def paced(
    workspace: Workspace, channel: Channel, smsc: Smsc, rate: float, seconds: float, offset: int
) -> Pace:
    """The pace the SMSC saw with the channel's rate limit set to `rate`."""
    count = int(rate * seconds)
    Channel.objects.filter(id=channel.id).update(rate_limit=rate)
    before = len(smsc.submits())
    phones = phones_for(count, 20_000_000 + offset)
    messages_send(
        workspace=workspace, requests=[SendRequest(p, BODY, "transactional") for p in phones]
    )
    mine = Message.objects.filter(workspace=workspace)  # as in pipeline(): cheap to poll
    _wait(
        mine.filter(status__in=[Status.QUEUED, Status.SENDING]),
        time.monotonic() + seconds * 3 + 60,
        "paced",
    )
    Channel.objects.filter(id=channel.id).update(rate_limit=None)
    stamps = sorted(s["at"] for s in smsc.submits(before) if s["outcome"] == "accepted")
    span = stamps[-1] - stamps[0]
    # The limiter lets up to one second's worth go at once (its burst: whole after a quiet
    # channel, partly when it sent a moment ago); past the first second, `rate` a second.
    later = [t for t in stamps if t >= stamps[0] + 1.0]
    if len(later) < 2:  # a run shorter than that: the whole of it
        later = stamps
    return Pace(steady=(len(later) - 1) / (later[-1] - later[0]), overall=(len(stamps) - 1) / span)


def run(options: dict[str, Any]) -> list[str]:
    """Measure, and return the lines to print."""
    opts = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    smsc = Smsc().start()
    smsc.behave("receipts")
    workspace = workspace_create(name=f"SMPP benchmark {time.strftime('%Y-%m-%d %H:%M:%S')}")
    channel = channel_create(
        workspace=workspace,
        provider="smpp",
        name="SMPP benchmark",
        address="Optique",
        config={
            "host": "127.0.0.1",
            "port": smsc.port,
            "system_id": SYSTEM_ID,
            "window": opts["window"],
        },
        secrets={"password": PASSWORD},
    )
    Channel.objects.filter(workspace=workspace).update(is_default=False)
    Channel.objects.filter(id=channel.id).update(is_default=True)
    memo_forget()  # no signal for an update: the default channel is read again
    immediate = HUEY.immediate
    HUEY.immediate = False
    # The shop's customers exist before it texts them (an API send to a new number would
    # create its contact; that is measured by `bench send`, not here).
    for index in range(opts["rounds"]):
        phones = phones_for(opts["messages"], index * opts["messages"])
        region = workspace.region
        contacts_for_phones(
            workspace=workspace, phones=[parse_phone(p, region=region) for p in phones]
        )
    consumer = start_embedded_worker(opts["workers"])
    # More worker processes, as at scale: each holds its own bind and takes dispatch
    # tasks from the same queue.
    others = [_worker_process(opts["workers"]) for _ in range(opts["processes"] - 1)]
    rounds: list[Round] = []
    paces: list[Pace] = []
    try:
        bare_loop(channel, min(opts["messages"], 2000))  # warm-up, not counted
        for index in range(opts["rounds"]):
            before = bare_loop(channel, opts["messages"])
            enqueue, sent, delivered = pipeline(
                workspace,
                opts["messages"],
                index * opts["messages"],
                separate=opts["enqueue"] == "process",
            )
            after = bare_loop(channel, opts["messages"])
            rounds.append(Round(before, after, enqueue, sent, delivered))
        for index in range(opts["rounds"]):
            paces.append(
                paced(workspace, channel, smsc, opts["rate"], opts["rate_seconds"], index * 10_000)
            )
    finally:
        for other in others:
            other.terminate()  # SIGTERM: the worker stops its threads and unbinds
            other.wait(30)
        consumer.stop(graceful=True)
        HUEY.immediate = immediate
        sessions().stop_all()
        smsc.kill()
        if not opts["keep"]:
            Message.objects.filter(workspace=workspace).delete()
            workspace.delete()
    return _lines(opts, rounds, paces)


def _lines(opts: dict[str, Any], rounds: list[Round], paces: list[Pace]) -> list[str]:
    bare = statistics.median(r.bare for r in rounds)
    sent = statistics.median(r.sent for r in rounds)
    delivered = statistics.median(r.delivered for r in rounds)
    share = statistics.median(r.share for r in rounds)
    shares = ", ".join(f"{r.share:.0%}" for r in rounds)
    loops = ", ".join(f"{r.before:,.0f}/{r.after:,.0f}" for r in rounds)
    steady = statistics.median(p.steady for p in paces)
    overall = statistics.median(p.overall for p in paces)
    rate = opts["rate"]
    met = sent >= TARGET_RATE and share >= TARGET_SHARE and abs(steady - rate) <= TARGET_PACE * rate
    return [
        f"smpp: {opts['messages']:,} messages x {opts['rounds']} round(s), window "
        f"{opts['window']}, {connection.vendor} + {type(HUEY).__name__}, "
        f"{opts['processes']} worker process(es) of {opts['workers']} threads, "
        f"{os.cpu_count()} cores (medians)",
        "  enqueue by "
        + ("a process of its own (the API's)" if opts["enqueue"] == "process" else "this process"),
        f"  bare client loop            {bare:>10,.0f} submit_sm/s"
        f"  (before/after each round: {loops})",
        f"  enqueue alone (API level)   {statistics.median(r.enqueue for r in rounds):>10,.0f}"
        " messages/s",
        f"  pipeline, enqueue → sent    {sent:>10,.0f} submit_sm/s",
        f"  pipeline, → delivered       {delivered:>10,.0f} messages/s (receipts stored)",
        f"  pipeline / bare loop        {share:>10.0%}  (median of the rounds: {shares};"
        " each against the bare loops just before and after it)",
        f"  rate limit {rate:g}/s          {steady:>10.1f} submit_sm/s past the first second (the "
        f"limiter's burst; {overall:.1f}/s with it)",
        f"  targets (≥ {TARGET_RATE:,.0f}/s, ≥ {TARGET_SHARE:.0%} of bare, "
        f"{rate:g}/s ± {TARGET_PACE:.0%}): " + ("met" if met else "not met"),
    ]
