from __future__ import annotations

import os
from importlib import import_module
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

# Benchmarks whose module has `run(options) -> list[str]` (the lines to print):
# name -> (module, help, options as (flag, default, help)).
LINE_BENCHES: dict[str, tuple[str, str, tuple[tuple[str, Any, str], ...]]] = {
    "scheduler": (
        "comptoir.benchmarks.scheduler",
        "automations: due runs among many pending ones found and enqueued",
        (
            ("--runs", 100_000, "pending runs in the table"),
            ("--due", 1_000, "of which due at once"),
            ("--rounds", 20, "idle scans timed"),
        ),
    ),
    "segments-count": (
        "comptoir.benchmarks.segments_count",
        "segment counts (the editor's live count) over a big customer base",
        (
            ("--contacts", 100_000, "contacts seeded"),
            ("--purchases", 300_000, "purchases seeded"),
            ("--rounds", 5, "counts timed per definition (medians printed)"),
        ),
    ),
    "import": (
        "comptoir.benchmarks.imports",
        "a POS export of many lines imported with all validation, then again",
        (
            ("--rows", 100_000, "lines in the generated CSV"),
            ("--rounds", 3, "imports timed (medians printed)"),
        ),
    ),
    "fanout": (
        "comptoir.benchmarks.fanout",
        "a campaign launched to a big audience, against a raw insert of as many rows",
        (
            ("--recipients", 100_000, "recipients in the audience"),
            ("--batch", 5_000, "recipients per fan-out batch"),
        ),
    ),
    "twilio": (
        "comptoir.benchmarks.twilio",
        "the Twilio adapter and pipeline against a local Twilio-like server",
        (
            ("--messages", 2_000, "messages per round"),
            ("--rounds", 3, "rounds (medians printed)"),
            ("--connections", 4, "keep-alive connections per batch"),
            ("--workers", 2, "embedded worker threads for the pipeline"),
        ),
    ),
    "smpp": (
        "comptoir.benchmarks.smpp",
        "the SMPP adapter and pipeline against a real SMSC process on loopback",
        (
            ("--messages", 5_000, "messages per round"),
            ("--rounds", 3, "rounds (medians printed)"),
            ("--window", 10, "submit_sm in flight"),
            ("--workers", 4, "embedded worker threads"),
            ("--processes", 1, "worker processes (more: `comptoir worker` processes, a bind each)"),
            ("--rate", 50.0, "the channel rate limit checked (segments/s)"),
            ("--rate-seconds", 10.0, "how long the rate is measured"),
            (
                "--enqueue",
                "process",
                "who queues: 'process' (one of its own, as the API) or 'thread' (this process)",
            ),
        ),
    ),
}


class Command(BaseCommand):
    help = (
        "Measure and print: `bench send` (the whole send pipeline), `bench segments`, "
        "`bench policy`, `bench inbound` (the inbound webhook under load), `bench inbox` "
        "(the inbox pages with a big history)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="which", required=True)
        send = sub.add_parser("send", help="enqueue N messages, time until all delivered")
        send.add_argument("--messages", type=int, default=20_000)
        send.add_argument("--rounds", type=int, default=1)
        send.add_argument("--workers", type=int, default=4, help="embedded worker threads")
        send.add_argument("--keep", action="store_true", help="keep the benchmark workspace")
        policy = sub.add_parser("policy", help="compliance decisions for a whole audience")
        policy.add_argument("--recipients", type=int, default=100_000)
        policy.add_argument("--rounds", type=int, default=3)
        segments = sub.add_parser("segments", help="segment counting throughput")
        segments.add_argument("--messages", type=int, default=200_000)
        segments.add_argument("--rounds", type=int, default=5)
        inbound = sub.add_parser(
            "inbound", help="signed customer texts on the real server's webhook, then counted"
        )
        inbound.add_argument("--rate", type=float, default=300, help="requests/s (open loop)")
        inbound.add_argument("--seconds", type=float, default=20)
        inbound.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="closed loop instead: this many connections, each as fast as answered",
        )
        inbound.add_argument("--connections", type=int, default=32, help="open loop's pool")
        inbound.add_argument("--senders", type=int, default=2000, help="half known, half new")
        inbound.add_argument("--duplicates", type=float, default=0.05, help="share repeated")
        inbound.add_argument(
            "--servers",
            type=int,
            default=1,
            help="server processes, the connections spread over them (as behind a proxy)",
        )
        inbound.add_argument("--server-threads", type=int, default=16, help="per server")
        inbound.add_argument(
            "--provider",
            choices=("sandbox", "twilio"),
            default="sandbox",
            help="the webhook's format: the sandbox's signed JSON or Twilio's signed form",
        )
        inbound.add_argument("--keep", action="store_true", help="keep the benchmark workspace")
        for name, (_module, help_text, flags) in LINE_BENCHES.items():
            bench = sub.add_parser(name, help=help_text)
            for flag, default, flag_help in flags:
                bench.add_argument(flag, type=type(default), default=default, help=flag_help)
        inbox = sub.add_parser("inbox", help="inbox pages with many conversations and messages")
        inbox.add_argument("--conversations", type=int, default=10_000)
        inbox.add_argument("--messages-per-contact", type=int, default=20)
        inbox.add_argument("--rounds", type=int, default=20)
        inbox.add_argument("--keep", action="store_true", help="keep the benchmark workspace")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["which"] == "segments":
            from comptoir.benchmarks import segments

            figures = segments.run(messages=options["messages"], rounds=options["rounds"])
            self.stdout.write(
                f"segments: {options['messages']:,} texts, median of {options['rounds']} passes"
            )
            for name, value in figures.items():
                self.stdout.write(f"  {name:<26} {value:>12,.0f} messages/s")
            return

        call_command("migrate", interactive=False, verbosity=0)
        if options["which"] in LINE_BENCHES:
            module_name, _help, flags = LINE_BENCHES[options["which"]]
            names = [flag.lstrip("-").replace("-", "_") for flag, _default, _help in flags]
            for line in import_module(module_name).run({n: options[n] for n in names}):
                self.stdout.write(line)
            return
        if options["which"] == "inbound":
            self._inbound(options)
            return
        if options["which"] == "inbox":
            self._inbox(options)
            return
        if options["which"] == "policy":
            from django.db import connection

            from comptoir.benchmarks import policy

            seconds, outcomes = policy.run(
                recipients=options["recipients"], rounds=options["rounds"]
            )
            self.stdout.write(
                f"policy: {options['recipients']:,} marketing recipients on {connection.vendor}, "
                f"median of {options['rounds']}: {seconds:.3f} s "
                f"({options['recipients'] / seconds:,.0f} decisions/s)"
            )
            for code, count in outcomes.most_common():
                self.stdout.write(f"  {code:<14} {count:>8,}")
            return

        from comptoir.benchmarks import send

        rounds = send.run(
            messages=options["messages"],
            rounds=options["rounds"],
            workers=options["workers"],
            keep=options["keep"],
        )
        raw = send.median(rounds, "raw")
        delivered = send.median(rounds, "delivered")
        self.stdout.write(
            f"send: {options['messages']:,} messages, {options['rounds']} round(s), "
            f"{send.describe()}, {options['workers']} worker threads, {os.cpu_count()} cores"
        )
        self.stdout.write(f"  raw adapter loop        {raw:>10,.0f} messages/s")
        self.stdout.write(
            f"  enqueue (API level)     {send.median(rounds, 'enqueue'):>10,.0f} messages/s"
        )
        self.stdout.write(
            f"  pipeline, all sent      {send.median(rounds, 'sent'):>10,.0f} messages/s"
        )
        self.stdout.write(f"  pipeline, all delivered {delivered:>10,.0f} messages/s")
        self.stdout.write(f"  pipeline / raw loop     {delivered / raw:>10.0%}")

    def _inbound(self, options: dict[str, Any]) -> None:
        from comptoir.benchmarks import inbound

        problems = [
            f"--{name} must be positive"
            for name in ("rate", "seconds", "connections", "senders", "servers", "server_threads")
            if options[name] <= 0
        ]
        if options["concurrency"] is not None and options["concurrency"] <= 0:
            problems.append("--concurrency must be positive")
        if not 0 <= options["duplicates"] < 1:
            problems.append("--duplicates is a share: at least 0, under 1")
        if options["senders"] < 2:
            problems.append("--senders must be at least 2 (half known, half new)")
        if problems:
            raise CommandError("; ".join(p.replace("_", "-") for p in problems))
        result = inbound.run(
            rate=options["rate"],
            seconds=options["seconds"],
            concurrency=options["concurrency"],
            senders=options["senders"],
            duplicates=options["duplicates"],
            connections=options["connections"],
            servers=options["servers"],
            threads=options["server_threads"],
            keep=options["keep"],
            provider=options["provider"],
        )
        for line in inbound_lines(result, os.cpu_count()):
            self.stdout.write(line)
        if not all(check.ok for check in result.checks):
            raise CommandError("stored messages do not match what was sent (see above)")

    def _inbox(self, options: dict[str, Any]) -> None:
        from comptoir.benchmarks import inbox

        for name in ("conversations", "messages_per_contact", "rounds"):
            if options[name] <= 0:
                raise CommandError(f"--{name.replace('_', '-')} must be positive")
        seeded, timings = inbox.run(
            conversations=options["conversations"],
            messages_per_contact=options["messages_per_contact"],
            rounds=options["rounds"],
            keep=options["keep"],
        )
        for line in inbox_lines(seeded, timings, options["rounds"]):
            self.stdout.write(line)


def inbound_lines(result: Any, cores: int | None) -> list[str]:
    """The inbound benchmark's report, as printed."""
    from comptoir.benchmarks import inbound

    load = result.load
    ms = [load.latency(share) * 1000 for share in (0.5, 0.9, 0.99, 1.0)]
    seconds = load.per_second()
    statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(load.statuses.items()))
    lines = [
        f"inbound ({result.provider}): {load.mode}, on {result.vendor}, "
        f"{result.servers} server process(es) of "
        f"{result.threads} threads, {cores} cores",
        f"  requests sent          {len(load.outcomes):>10,} in {load.elapsed:.1f} s"
        + ("  (all prepared requests sent before the time was up)" if load.exhausted else ""),
        f"  achieved rate          {load.rate:>10,.0f} requests/s"
        + (f"  (slowest second {min(seconds):,}, median {sorted(seconds)[len(seconds) // 2]:,})"
           if seconds else ""),
        f"  status codes           {statuses}",
        f"  latency p50 / p90 / p99 / max   "
        f"{ms[0]:.1f} / {ms[1]:.1f} / {ms[2]:.1f} / {ms[3]:.1f} ms",
    ]  # fmt: skip
    if load.outcomes:
        server, client = (
            c * 1000 / len(load.outcomes) for c in (result.server_cpu, result.client_cpu)
        )
        lines.append(
            f"  CPU per request        {server:>10.2f} ms in the server(s), "
            f"{client:.2f} ms in the load generator"
        )
    lines.append(
        f"  issue's target (≥ {inbound.TARGET_RATE} requests/s, p99 < "
        f"{inbound.TARGET_P99 * 1000:.0f} ms, each stored once): "
        + ("met" if result.target_met else "not met")
    )
    lines.append("  stored exactly once:")
    for check in result.checks:
        mark = "ok" if check.ok else "MISMATCH"
        lines.append(
            f"    {check.name:<50} expected {check.expected:>7,} found {check.found:>7,}  {mark}"
        )
    return lines


def inbox_lines(seeded: Any, timings: Any, rounds: int) -> list[str]:
    """The inbox benchmark's report, as printed."""
    from django.db import connection

    statuses = ", ".join(f"{status} {n:,}" for status, n in sorted(seeded.statuses.items()))
    lines = [
        f"inbox: {seeded.conversations:,} conversations ({statuses}; {seeded.assigned:,} "
        f"assigned, {seeded.prospects:,} prospects, {seeded.vip:,} VIP, {seeded.urgent:,} "
        f"urgent), {seeded.messages:,} messages, on {connection.vendor}; seeded in "
        f"{seeded.seconds:.1f} s",
        f"  {'median of ' + str(rounds):<40} {'median':>9} {'p90':>9} {'queries':>8} {'status':>7}",
    ]
    for timing in timings:
        lines.append(
            f"  {timing.name:<40} {timing.median * 1000:>6.1f} ms {timing.p90 * 1000:>6.1f} ms "
            f"{timing.queries:>8} {timing.status:>7}"
        )
    return lines
