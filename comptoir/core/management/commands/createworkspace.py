from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from comptoir.core.errors import ComptoirError
from comptoir.workspaces.services import api_key_create, workspace_create


class Command(BaseCommand):
    help = (
        "Create a workspace with a sandbox channel and print its new API key, once, "
        "alone on the last line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--region", default="FR", help="ISO country code, e.g. FR or US")
        parser.add_argument("--timezone", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            workspace = workspace_create(
                name=options["name"], region=options["region"], timezone_name=options["timezone"]
            )
        except ComptoirError as exc:
            raise CommandError(f"{exc.field}: {exc.message}" if exc.field else exc.message) from exc
        _, raw = api_key_create(workspace=workspace, name="createworkspace")
        self.stdout.write(
            f"Workspace {workspace.name} ({workspace.region}) created: {workspace.id}"
        )
        self.stdout.write("API key (shown once, keep it safe):")
        self.stdout.write(raw)
