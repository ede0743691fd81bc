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
Each round also fills the outbox first and times the workers sending it (no enqueue on
the same cores meanwhile), and reads the CPU each process used per message (Linux's
/proc): the client alone, the SMSC, the API's enqueue, the worker(s). Those say what
the share can be on 2 cores: the pipeline runs the same client plus the database work.
Then the channel gets a rate limit and the pace the SMSC saw is measured.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huey.contrib.djhuey import HUEY

from comptoir.benchmarks.aio import run_async
from comptoir.benchmarks.smpp_report import Cpu, Pace, Round, report_lines
from comptoir.channels.models import Channel
from comptoir.channels.services import channel_create
from comptoir.contacts.phones import parse_phone
from comptoir.contacts.services import contacts_for_phones
from comptoir.core.embedded import start_embedded_worker
from comptoir.core.fetch import param, rows_where
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


def phones_for(count: int, offset: int) -> list[str]:
    return [f"+336{(offset + i) % 100_000_000:08d}" for i in range(count)]


async def _discard(events: list[Event]) -> None:
    return None


async def _ignore(state: State, reason: str) -> None:
    return None


def timed_bare_loop(channel: Channel, smsc: Smsc, count: int) -> tuple[float, float, float]:
    """The bare loop's submit_sm/s, and CPU µs per message of this process (the client)
    and of the SMSC."""
    smsc_pid = smsc.process.pid if smsc.process else 0
    cpu, smsc_cpu = _cpu(os.getpid()), _cpu(smsc_pid)
    rate = bare_loop(channel, count)
    cpu, smsc_cpu = _cpu(os.getpid()) - cpu, _cpu(smsc_pid) - smsc_cpu
    return rate, cpu / count * 1e6, smsc_cpu / count * 1e6


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


def _cpu(*pids: int) -> float:
    """CPU seconds (user + system) these processes used so far; 0 without /proc."""
    total = 0.0
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat")
        if not stat.exists():
            return 0.0
        fields = stat.read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _unsent(channel: Channel) -> Callable[[], bool]:
    """Whether the channel has messages queued or sending: a hand-written look-up in each of
    the partial indexes on those rows (polled every 20 ms from the process it measures:
    a query reading the workspace's messages took a sixth of its CPU, and the ORM
    compiling even this one took 2 µs per message sent)."""
    channel_id = param(Message, "channel_id", channel.id)
    # One look-up per state: written as a constant, each is its partial index's condition.
    wheres = [f"channel_id = %s AND status = '{s.value}'" for s in (Status.QUEUED, Status.SENDING)]
    return lambda: any(rows_where(Message, "1", w, [channel_id], limit=1) for w in wheres)


def _wait(outstanding: Callable[[], bool], deadline: float, what: str, every: float = 0.02) -> None:
    while outstanding():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: messages still outstanding")
        time.sleep(every)


def _enqueue_here(workspace: Workspace, count: int, offset: int) -> tuple[float, float]:
    """Seconds, and CPU seconds, to queue `count` messages through the API's service."""
    phones = phones_for(count, offset)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, count, 500):
        messages_send(
            workspace=workspace,
            requests=[SendRequest(p, BODY, "transactional") for p in phones[i : i + 500]],
        )
    return time.perf_counter() - start, time.process_time() - cpu


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
    workspace: Workspace, channel: Channel, count: int, offset: int, *, separate: bool
) -> tuple[float, float, float, float]:
    """Messages/s enqueued, sent and delivered, and the enqueue's CPU per message (µs)."""
    child = _enqueuer(workspace, count, offset) if separate else None
    start = time.perf_counter()
    if child is not None:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write("go\n")
        child.stdin.flush()
        enqueued, enqueue_cpu = map(float, child.stdout.readline().split())
        child.wait(10)
    else:
        enqueued, enqueue_cpu = _enqueue_here(workspace, count, offset)
    deadline = time.monotonic() + max(120.0, count / 50)
    _wait(_unsent(channel), deadline, "not all sent")
    sent = time.perf_counter() - start
    # Polled less often: no index answers this one (it reads the channel's messages).
    undelivered = Message.objects.filter(channel=channel).exclude(status=Status.DELIVERED)
    _wait(undelivered.exists, deadline, "not all delivered", every=0.1)
    delivered = time.perf_counter() - start
    return count / enqueued, count / sent, count / delivered, enqueue_cpu / count * 1e6


def drain(
    workspace: Workspace,
    channel: Channel,
    count: int,
    offset: int,
    smsc: Smsc,
    workers: Callable[[], Any],
    others: list[subprocess.Popen[bytes]],
) -> tuple[float, float, float]:
    """Fill the outbox with the workers held, then time them sending it: submit_sm/s,
    and CPU µs per message of the worker process(es) and of the SMSC meanwhile."""
    for other in others:
        other.send_signal(signal.SIGSTOP)  # its bind stays; it takes nothing meanwhile
    _enqueue_here(workspace, count, offset)
    pids = [os.getpid(), *(other.pid for other in others)]
    smsc_pid = smsc.process.pid if smsc.process else 0
    cpu, smsc_cpu = _cpu(*pids), _cpu(smsc_pid)
    start = time.perf_counter()
    for other in others:
        other.send_signal(signal.SIGCONT)
    consumer = workers()
    try:
        _wait(_unsent(channel), time.monotonic() + max(120.0, count / 50), "drain")
        elapsed = time.perf_counter() - start
        cpu, smsc_cpu = _cpu(*pids) - cpu, _cpu(smsc_pid) - smsc_cpu
        _wait(
            Message.objects.filter(channel=channel).exclude(status=Status.DELIVERED).exists,
            time.monotonic() + 120,
            "drain: not all delivered",
            every=0.1,
        )
    finally:
        consumer.stop(graceful=True)
    return count / elapsed, cpu / count * 1e6, smsc_cpu / count * 1e6


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
    _wait(_unsent(channel), time.monotonic() + seconds * 3 + 60, "paced")
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
    for index in range(2 * opts["rounds"]):  # the pipeline's, then the drain's
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
        count = opts["messages"]
        for index in range(opts["rounds"]):
            before, client, smsc_bare = timed_bare_loop(channel, smsc, count)
            enqueue, sent, delivered, enqueuer = pipeline(
                workspace, channel, count, index * count, separate=opts["enqueue"] == "process"
            )
            consumer.stop(graceful=True)
            drained, workers, smsc_drain = drain(
                workspace,
                channel,
                count,
                (opts["rounds"] + index) * count,
                smsc,
                lambda: start_embedded_worker(opts["workers"]),
                others,
            )
            consumer = start_embedded_worker(opts["workers"])
            after = bare_loop(channel, count)
            cpu = Cpu(client, smsc_bare, enqueuer, workers, smsc_drain)
            rounds.append(Round(before, after, enqueue, sent, delivered, drained, cpu))
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
    return report_lines(opts, rounds, paces)
