from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from comptoir.automations.firing import next_due, runs_fire_due
from comptoir.automations.planning import birthdays_plan


class Command(BaseCommand):
    help = "Automations: `automations run-due` sends what is due now (birthdays planned first)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("run-due", help="plan today's birthdays, then fire every due run")

    def handle(self, *args: Any, **options: Any) -> None:
        planned = birthdays_plan()
        report = runs_fire_due()
        upcoming = next_due()
        self.stdout.write(
            f"{report.sent} sent, {report.skipped} skipped, {report.cancelled} cancelled "
            f"({planned} birthday run(s) planned); next due: "
            f"{upcoming.isoformat() if upcoming else 'none'}"
        )
