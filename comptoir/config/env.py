"""Reading configuration from the environment, with safe defaults under ./var/."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

VAR_DIR = Path(os.environ.get("COMPTOIR_VAR_DIR", Path.cwd() / "var")).resolve()


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in var/ (mode 0600)."""
    value = os.environ.get("SECRET_KEY", "").strip()
    if value:
        return value
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def huey_settings(url: str, *, name: str) -> dict[str, Any]:
    """Huey's Django settings from HUEY_URL: sqlite:///path, redis://host:port/db or postgres://…"""
    parsed = urlparse(url)
    common = {
        "name": name,
        "immediate": False,
        "consumer": {"workers": 4, "worker_type": "thread", "periodic": True},
    }
    if parsed.scheme == "sqlite":
        # sqlite:///relative/path, sqlite:////absolute/path, or sqlite:// for var/huey.sqlite3
        path = parsed.path[1:] if parsed.path.startswith("/") else parsed.path
        path = path or str(VAR_DIR / "huey.sqlite3")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {"huey_class": "huey.SqliteHuey", "filename": path, **common}
    if parsed.scheme in {"redis", "rediss"}:
        return {"huey_class": "huey.PriorityRedisHuey", "url": url, **common}
    if parsed.scheme in {"postgres", "postgresql"}:
        return {"huey_class": "huey.PostgresHuey", "dsn": url, **common}
    raise ValueError(f"HUEY_URL must start with sqlite://, redis:// or postgres://, not {url!r}")
