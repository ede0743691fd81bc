"""A local HTTP server that answers like Twilio's REST API, for tests and the benchmark.

It speaks HTTP/1.1 with keep-alive on 127.0.0.1 (a free port), checks basic auth like
Twilio, records every request, and answers Messages.json and Calls.json the way Twilio
documents: 201 with a sid, or an error object `{"code", "message", "more_info",
"status"}`. What it does is set by `behave(name)` (for every request) or `script(...)`
(for the next few):

- "accept": 201 and a new SM…/CA… sid;
- "reject:<code>": 400 with that Twilio error code (21211 invalid number, 21610 the
  recipient replied STOP, 21614 not a mobile…);
- "unauthorized": 401, code 20003 (whatever the credentials);
- "throttle": 429, code 20429, `Retry-After: 2`;
- "error": 500, code 20500;
- "drop": reads the request, then closes the connection without answering.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from comptoir.providers.twilio.rest import API_VERSION

ERRORS = {
    "20003": (401, "Authenticate"),
    "20404": (404, "The requested resource was not found"),
    "20429": (429, "Too Many Requests"),
    "20500": (500, "Internal Server Error"),
    "21211": (400, "Invalid 'To' Phone Number"),
    "21610": (400, "Attempt to send to unsubscribed recipient"),
    "21614": (400, "'To' number is not a valid mobile number"),
}
BEHAVIOURS = ("accept", "reject:<code>", "unauthorized", "throttle", "error", "drop")


@dataclass(frozen=True, slots=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    form: list[tuple[str, str]]

    def value(self, name: str) -> str:
        return next((v for k, v in self.form if k == name), "")


@dataclass
class TwilioPeer:
    account_sid: str
    auth_token: str
    record: bool = True  # the benchmark turns it off: memory stays flat over long runs
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    created: dict[str, dict[str, str]] = field(default_factory=dict)  # sid → its form
    answered: int = 0
    connections: int = 0  # TCP connections accepted: reuse shows as few of them
    _default: str = "accept"
    _sockets: list[socket.socket] = field(default_factory=list)
    _script: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def behave(self, name: str) -> None:
        """What every request gets from now on (see the module's list)."""
        _check(name)
        with self._lock:
            self._default = name
            self._script.clear()

    def script(self, *names: str) -> None:
        """What the next requests get, one each, before the usual behaviour resumes."""
        for name in names:
            _check(name)
        with self._lock:
            self._script.extend(names)

    def hang_up(self) -> None:
        """Close every open connection from the server's side, as servers do to idle ones."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _next(self, request: Recorded | None) -> str:
        with self._lock:
            if request is not None:
                self.requests.append(request)
            self.answered += 1
            return self._script.pop(0) if self._script else self._default

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        """(status, headers, JSON object) for a request, or None to drop the connection."""
        form = parse_qsl(body.decode(errors="replace"), keep_blank_values=True)
        recorded = Recorded(method, path, headers, form) if self.record else None
        behaviour = self._next(recorded)
        if behaviour == "drop":
            return None
        if not self._authorised(headers.get("authorization", "")):
            return _error("20003")
        prefix = f"/{API_VERSION}/Accounts/{self.account_sid}/"
        resource = path[len(prefix) :] if path.startswith(prefix) else ""
        if method != "POST" or resource not in ("Messages.json", "Calls.json"):
            return _error("20404")
        if behaviour == "unauthorized":
            return _error("20003")
        if behaviour == "throttle":
            status, extra, data = _error("20429")
            return status, {**extra, "Retry-After": "2"}, data
        if behaviour == "error":
            return _error("20500")
        if behaviour.startswith("reject:"):
            return _error(behaviour.partition(":")[2])
        return 201, {}, self._created(resource, dict(form))

    def _authorised(self, header: str) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}"

    def _created(self, resource: str, form: dict[str, str]) -> dict[str, Any]:
        prefix = "SM" if resource == "Messages.json" else "CA"
        sid = prefix + uuid.uuid4().hex
        if self.record:
            with self._lock:
                self.created[sid] = form
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": form.get("To", ""),
            "from": form.get("From") or None,
            "messaging_service_sid": form.get("MessagingServiceSid") or None,
            "body": form.get("Body", ""),
            "status": "queued",
            "api_version": API_VERSION,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/{resource[:-5]}/{sid}.json",
        }


def _check(name: str) -> None:
    base = name.partition(":")[0]
    if base not in {b.partition(":")[0] for b in BEHAVIOURS} or (base == "reject") != (":" in name):
        raise ValueError(f"unknown behaviour {name!r}: use one of {', '.join(BEHAVIOURS)}")


def _error(code: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    status, message = ERRORS.get(code, (400, "Bad request"))
    return (
        status,
        {},
        {
            "code": int(code),
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


def _handler(peer: TwilioPeer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's API
        # Headers and body leave in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            with peer._lock:
                peer.connections += 1
                peer._sockets.append(self.connection)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = peer.answer(self.command, self.path, headers, body)
            if answer is None:
                self.close_connection = True
                return
            status, extra, data = answer
            payload = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_POST = _serve
        do_GET = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests read `requests`, not stderr

    return Handler


@contextmanager
def twilio_peer(account_sid: str, auth_token: str, *, record: bool = True) -> Iterator[TwilioPeer]:
    """Run a TwilioPeer on a free loopback port for the duration of the block."""
    peer = TwilioPeer(account_sid, auth_token, record=record)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(peer))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="twilio-peer", daemon=True)
    thread.start()
    peer.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
