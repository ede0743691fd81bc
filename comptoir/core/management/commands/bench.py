from __future__ import annotations

import os
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Measure and print: `bench send` (the whole send pipeline), `bench segments`."

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
