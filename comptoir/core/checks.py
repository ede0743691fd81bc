"""Start-up checks Django runs before any command: what the database must offer."""

from __future__ import annotations

import sqlite3
from typing import Any

from django.conf import settings
from django.core.checks import Error, register

# UPDATE … FROM (3.33) with RETURNING (3.35): the dispatcher marks a batch `sent` in one
# statement that says which rows it changed (comptoir.dispatch.claims.mark_sent).
SQLITE_MIN = (3, 35, 0)


@register()
def sqlite_version(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    engine = settings.DATABASES["default"]["ENGINE"]
    if "sqlite" not in engine or sqlite3.sqlite_version_info >= SQLITE_MIN:
        return []
    wanted = ".".join(map(str, SQLITE_MIN))
    return [
        Error(
            f"SQLite {sqlite3.sqlite_version} is too old: Comptoir needs {wanted} or later "
            "(UPDATE … FROM with RETURNING).",
            hint="Use a Python built against a newer libsqlite3, or PostgreSQL "
            "(DATABASE_URL=postgres://…).",
            id="comptoir.E001",
        )
    ]
