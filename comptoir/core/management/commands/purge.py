from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from comptoir.compliance.retention import (
    MODES,
    retention_candidates,
    retention_cutoff,
    retention_mode,
    retention_purge,
)
from comptoir.workspaces.models import Workspace


class Command(BaseCommand):
    help = (
        "Purge (or anonymise) a workspace's contacts with no activity coming from them for "
        "the retention period (3 years by default); --dry-run lists them and changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="The workspace's id (a UUID).")
        parser.add_argument("--dry-run", action="store_true", help="List, change nothing.")
        parser.add_argument(
            "--mode", choices=MODES, default=None, help="default: the workspace's setting"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            workspace = Workspace.objects.get(id=uuid.UUID(options["workspace"]))
        except (ValueError, Workspace.DoesNotExist):
            raise CommandError(f"No workspace with id {options['workspace']!r}.") from None
        options["mode"] = options["mode"] or retention_mode(workspace)
        if options["dry_run"]:
            contacts = list(retention_candidates(workspace=workspace))
            cutoff = retention_cutoff(workspace=workspace)
            self.stdout.write(
                f"{len(contacts)} contact(s) would be purged ({options['mode']}): "
                f"nothing from them since {cutoff:%Y-%m-%d}."
            )
            for contact in contacts:
                name = f"{contact.first_name} {contact.last_name}".strip() or "-"
                last = contact.last_activity  # type: ignore[attr-defined]
                self.stdout.write(
                    f"{contact.id}  {contact.phone}  {name}  last activity {last:%Y-%m-%d}"
                )
            return
        count = retention_purge(
            workspace=workspace, mode=options["mode"], actor_label="system: purge command"
        )
        self.stdout.write(f"{count} contact(s) purged ({options['mode']}).")
