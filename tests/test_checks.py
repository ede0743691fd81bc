"""Django's start-up checks: a too old SQLite is named before anything runs."""

from __future__ import annotations

import sqlite3

from comptoir.core import checks


def test_an_old_sqlite_is_refused_with_the_version_it_needs(settings, monkeypatch):
    monkeypatch.setitem(settings.DATABASES["default"], "ENGINE", "django.db.backends.sqlite3")
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.34.1")
    [error] = checks.sqlite_version()
    assert error.id == "comptoir.E001"
    assert "SQLite 3.34.1 is too old" in error.msg and "3.35.0" in error.msg


def test_this_machines_database_passes():
    assert checks.sqlite_version() == []
