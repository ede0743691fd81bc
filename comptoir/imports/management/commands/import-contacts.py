"""`comptoir import-contacts FILE --workspace <id or name> [--purchases] [--mapping c=f …]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from comptoir.imports import cli


class Command(BaseCommand):
    help = (
        "Import contacts (or, with --purchases, purchases and their customers) from a "
        "point-of-sale export, CSV or XLSX, with a progress bar; every line in error is "
        "listed with its column and the reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.ending = ""  # the progress bar redraws its line with \r
        cli.run(options, self.stdout)
