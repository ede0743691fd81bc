from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Serve the web app and API, with the worker in the same process unless --no-worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=16, help="web server threads")
        parser.add_argument("--workers", type=int, default=None, help="worker threads")
        parser.add_argument("--no-worker", action="store_true", help="web only (scaled set-up)")

    def handle(self, *args: Any, **options: Any) -> None:
        from waitress import serve

        from comptoir.config.wsgi import application
        from comptoir.core.embedded import start_embedded_worker

        consumer = None
        if not options["no_worker"]:
            consumer = start_embedded_worker(options["workers"])
        url = f"http://{options['host']}:{options['port']}"
        self.stdout.write(
            f"Comptoir on {url} ({'web only' if consumer is None else 'web + worker'})"
        )
        try:
            serve(
                application,
                host=options["host"],
                port=options["port"],
                threads=options["threads"],
                ident="comptoir",
                _quiet=True,
            )
        finally:
            if consumer is not None:
                consumer.stop(graceful=True)
