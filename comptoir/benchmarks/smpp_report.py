"""The SMPP benchmark's figures (see `smpp.py`, which measures them) and its report."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from huey.contrib.djhuey import HUEY

TARGET_RATE = 1000.0  # submit_sm/s through the pipeline
TARGET_SHARE = 0.60  # of the bare loop
TARGET_PACE = 0.05  # a rate limit is honoured within ±5 %


@dataclass
class Cpu:
    """CPU microseconds per message, by process (0 where /proc cannot tell)."""

    client: float  # this process during the bare loop: our client alone
    smsc: float  # the SMSC during the bare loop
    enqueuer: float  # the API's process during the pipeline
    workers: float  # the worker process(es) while they send a full outbox
    smsc_drain: float  # the SMSC meanwhile (receipts included)


@dataclass
class Round:
    before: float  # submit_sm/s of the bare loop right before this round's pipeline
    after: float  # … and right after it
    enqueue: float  # messages/s for the API-level enqueue alone
    sent: float  # messages/s from the first enqueue until all are sent
    delivered: float  # … until all are delivered (receipts stored)
    drained: float  # submit_sm/s sending an outbox filled beforehand
    cpu: Cpu

    @property
    def bare(self) -> float:
        return (self.before + self.after) / 2

    @property
    def share(self) -> float:
        return self.sent / self.bare

    @property
    def drain_share(self) -> float:
        return self.drained / self.bare


@dataclass
class Pace:
    steady: float  # the pace after the first second (the limiter's burst): what it keeps
    overall: float  # (submits - 1) / time from the first to the last, burst included


def report_lines(opts: dict[str, Any], rounds: list[Round], paces: list[Pace]) -> list[str]:
    def median(figure: Callable[[Round], float]) -> float:
        return statistics.median(figure(r) for r in rounds)

    bare, sent, share = (
        median(lambda r: r.bare),
        median(lambda r: r.sent),
        median(lambda r: r.share),
    )
    drained, drain_share = median(lambda r: r.drained), median(lambda r: r.drain_share)
    shares = ", ".join(f"{r.share:.0%}" for r in rounds)
    drain_shares = ", ".join(f"{r.drain_share:.0%}" for r in rounds)
    loops = ", ".join(f"{r.before:,.0f}/{r.after:,.0f}" for r in rounds)
    client, workers = median(lambda r: r.cpu.client), median(lambda r: r.cpu.workers)
    # Every process of the pipeline on the same cores: the pace their CPU allows (and a
    # worker process, one interpreter lock, runs on one core at a time).
    pipeline_cpu = workers + median(lambda r: r.cpu.enqueuer + r.cpu.smsc_drain)
    cores = os.cpu_count() or 1
    with_api = (
        min(cores / pipeline_cpu, opts["processes"] / workers) * 1e6 / bare if workers else 0.0
    )
    steady = statistics.median(p.steady for p in paces)
    overall = statistics.median(p.overall for p in paces)
    rate = opts["rate"]
    paced_ok = abs(steady - rate) <= TARGET_PACE * rate

    def met(ok: bool) -> str:
        return "met" if ok else "not met"

    return [
        f"smpp: {opts['messages']:,} messages x {opts['rounds']} round(s), window "
        f"{opts['window']}, {connection.vendor} + {type(HUEY).__name__}, "
        f"{opts['processes']} worker process(es) of {opts['workers']} threads, "
        f"{os.cpu_count()} cores (medians)",
        "  enqueue by "
        + ("a process of its own (the API's)" if opts["enqueue"] == "process" else "this process"),
        f"  bare client loop            {bare:>10,.0f} submit_sm/s"
        f"  (before/after each round: {loops})",
        f"  enqueue alone (API level)   {median(lambda r: r.enqueue):>10,.0f} messages/s",
        f"  pipeline, enqueue → sent    {sent:>10,.0f} submit_sm/s",
        f"  pipeline, → delivered       {median(lambda r: r.delivered):>10,.0f} messages/s"
        " (receipts stored)",
        f"  pipeline / bare loop        {share:>10.0%}  (median of the rounds: {shares};"
        " each against the bare loops just before and after it)",
        f"  … its CPU bound             {with_api:>10.0%}  what the CPU per message of the API's"
        " enqueue, the worker process(es) and the SMSC allows on these cores",
        f"  full outbox → sent          {drained:>10,.0f} submit_sm/s, {drain_share:.0%} of the"
        f" bare loop ({drain_shares}): the workers alone, nothing enqueued meanwhile",
        f"  CPU µs per message          client alone {client:.0f}, SMSC "
        f"{median(lambda r: r.cpu.smsc):.0f}; pipeline: worker process(es) {workers:.0f}, SMSC "
        f"{median(lambda r: r.cpu.smsc_drain):.0f}, API enqueue "
        f"{median(lambda r: r.cpu.enqueuer):.0f}",
        *(
            [
                f"  client alone / worker       {client / workers if workers else 0:>10.0%}  (the"
                " share one worker process can reach while its CPU is what limits it)"
            ]
            if opts["processes"] == 1
            else []
        ),
        f"  rate limit {rate:g}/s          {steady:>10.1f} submit_sm/s past the first second (the "
        f"limiter's burst; {overall:.1f}/s with it)",
        f"  targets: ≥ {TARGET_RATE:,.0f}/s {met(sent >= TARGET_RATE)} (with the enqueue); "
        f"≥ {TARGET_SHARE:.0%} of the bare loop {met(drain_share >= TARGET_SHARE)} (full outbox: "
        f"like the bare loop, the messages are there before the clock starts); {rate:g}/s ± "
        f"{TARGET_PACE:.0%} {met(paced_ok)}",
    ]
