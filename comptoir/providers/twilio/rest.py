"""Twilio's REST API over kept-alive HTTPS connections, one small pool per channel.

Only the standard library: `http.client` connections are reused across sends (a new TLS
handshake per message would cap a channel far below 500 sends per second), and a pooled
connection the server has closed while idle is noticed before it is used, so a request is
never written onto a dead socket. Requests are form posts with HTTP basic auth
(account SID and auth token), as Twilio documents them.
"""

from __future__ import annotations

import base64
import http.client
import json
import select
import ssl
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode, urlsplit

API_VERSION = "2010-04-01"
DEFAULT_BASE_URL = "https://api.twilio.com"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
# Connections kept per channel between sends; more are opened when sends run in parallel.
IDLE_PER_POOL = 16
# A connection idle longer than this is closed rather than reused (servers drop idle
# keep-alive connections after a while; a fresh one is cheaper than a failed send).
MAX_IDLE_SECONDS = 30.0
USER_AGENT = "comptoir-twilio/1"


class NotSent(Exception):
    """The request never left: no connection could be made. Safe to try again."""


class Unconfirmed(Exception):
    """The request was written but no complete answer came back: Twilio may have it."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-cased names
    body: bytes

    def json(self) -> dict[str, Any]:
        """The JSON object Twilio answered, or {} when the body is not one."""
        try:
            data = json.loads(self.body)
        except (UnicodeDecodeError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


class ConnectionPool:
    """Idle keep-alive connections to one API origin, shared by a channel's senders."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"API base URL must be http(s)://host[:port], not {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self._idle: list[tuple[float, http.client.HTTPConnection]] = []
        self._lock = threading.Lock()
        self.opened = 0  # connections opened so far: what the benchmark reports as reuse

    def _new(self) -> http.client.HTTPConnection:
        self.opened += 1
        if self.scheme == "https":
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=CONNECT_TIMEOUT, context=_tls_context()
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=CONNECT_TIMEOUT)

    def _take(self) -> http.client.HTTPConnection:
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._idle:
                    break
                since, conn = self._idle.pop()
            if now - since < MAX_IDLE_SECONDS and _still_open(conn):
                return conn
            conn.close()
        return self._new()

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < IDLE_PER_POOL:
                self._idle.append((time.monotonic(), conn))
                return
        conn.close()

    @contextmanager
    def connection(self) -> Iterator[http.client.HTTPConnection]:
        """A connection for one exchange; kept for the next one only if it ended cleanly."""
        conn = self._take()
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        self._give_back(conn)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for _, conn in idle:
            conn.close()

    def post(self, path: str, form: Sequence[tuple[str, str]], auth: tuple[str, str]) -> Response:
        """POST a form; raises NotSent or Unconfirmed when no full answer came back."""
        body = urlencode(form).encode()
        credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers = {
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        with self.connection() as conn:
            try:
                if conn.sock is None:
                    _connect(conn)
            except (OSError, http.client.HTTPException) as exc:
                raise NotSent(_describe(exc)) from None
            try:
                conn.request("POST", self.prefix + path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
            except (OSError, http.client.HTTPException) as exc:
                raise Unconfirmed(_describe(exc)) from None
            if answer.will_close:
                conn.close()  # the server said so: the next send opens a new one
            return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)


@cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every connection (loading the CA store is slow)."""
    return ssl.create_default_context()


def _connect(conn: http.client.HTTPConnection) -> None:
    """Connect within CONNECT_TIMEOUT, then give Twilio READ_TIMEOUT for each answer."""
    conn.connect()
    if conn.sock is not None:
        conn.sock.settimeout(READ_TIMEOUT)


def _still_open(conn: http.client.HTTPConnection) -> bool:
    """False when the server closed an idle connection (its socket reads as ready: EOF)."""
    sock = conn.sock
    if sock is None:
        return True  # never connected: connecting is the next step anyway
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _describe(exc: BaseException) -> str:
    # Exception texts of http.client and socket carry host and port, never credentials.
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def retry_after(headers: Mapping[str, str], default: float) -> float:
    """Seconds from a Retry-After header (seconds or an HTTP date), else `default`."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return default
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(when.timestamp() - time.time(), 0.0)


_pools: dict[tuple[str, str], ConnectionPool] = {}
_pools_lock = threading.Lock()


def pool_for(channel_uuid: str, base_url: str) -> ConnectionPool:
    """The channel's pool; a changed base URL gets a pool of its own."""
    key = (channel_uuid, base_url)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = ConnectionPool(base_url)
        return pool


def pools_close() -> None:
    """Close every idle connection (tests and benchmarks call it between runs)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()
