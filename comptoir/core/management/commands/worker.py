from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from huey.consumer import Consumer
from huey.contrib.djhuey import HUEY

from comptoir.core.embedded import consumer_options


class Command(BaseCommand):
    help = "Run the background worker (Huey consumer and dispatcher) only."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workers", type=int, default=None, help="worker threads")

    def handle(self, *args: Any, **options: Any) -> None:
        consumer = Consumer(HUEY, **consumer_options(workers=options["workers"]))
        self.stdout.write(f"Comptoir worker: {consumer.workers} threads on {type(HUEY).__name__}")
        consumer.run()
