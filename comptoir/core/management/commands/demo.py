from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from comptoir.core.demo import demo_access, seed_demo


class Command(BaseCommand):
    help = "Migrate, seed the demo optician 'Optique Lumière', print a login and key, serve."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="seed and print, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        workspace, created = seed_demo()
        username, password, key = demo_access(workspace)
        base = f"http://{options['host']}:{options['port']}"
        self.stdout.write(
            f"\n{'Seeded' if created else 'Using'} the demo shop: {workspace.name}\n"
            f"  Open          {base}/\n"
            f"  Staff login   {username} / {password}\n"
            f"  Phone sim.    {base}/sandbox/phone/\n"
            f"  API docs      {base}/api/v1/docs\n"
            f"  API key       {key}\n\n"
            f"  Try: curl -s -X POST {base}/api/v1/messages -H 'Authorization: Bearer {key}' "
            "-H 'Content-Type: application/json' "
            '-d \'{"to": "06 12 34 10 00", "body": "Bonjour, vos lunettes sont prêtes !", '
            '"purpose": "transactional"}\'\n'
        )
        if not options["no_serve"]:
            call_command("serve", host=options["host"], port=options["port"])
