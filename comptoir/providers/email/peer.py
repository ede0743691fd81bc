"""A real SMTP server for tests (aiosmtpd, in its own process), and its remote control.

`python comptoir/providers/email/peer.py --dir D --port P [--user U --password W]` serves
SMTP on 127.0.0.1:P, requires that login when given (AUTH PLAIN/LOGIN without TLS: it is
loopback), stores each accepted email as `D/<n>.eml` with `D/<n>.json` (envelope, the
client's address and port, who logged in), and answers as `D/rules.json` says at the
moment each command arrives:

    {"rcpt": {"*": "451 4.3.0 Try later", "gone@example.org": "550 5.1.1 No such user"},
     "data": "554 5.7.1 Spam"}

`SmtpPeer` starts and stops that process from a test and reads what it stored. It is also
the conformance peer: `behave()` sets the rules, or the channel's credentials ("bad
credentials") or port ("down").

aiosmtpd is a test dependency: it is imported only in the server process.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import warnings
from email.message import EmailMessage
from pathlib import Path
from typing import Any

READY = "READY"
USER = "shop@example.org"
PASSWORD = "smtp-pass-s3cr3t-4242"  # distinctive: the conformance harness looks for it in logs
BEHAVIOURS = ("accept", "reject", "tempfail", "reject_data", "bad_credentials", "down")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SmtpPeer:
    """One server process on a fixed port: it can be stopped and started again there."""

    def __init__(self, folder: Path, *, user: str = USER, password: str = PASSWORD) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.user, self.password = user, password
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self.mode = "accept"

    # -- the process ----------------------------------------------------------------------

    def start(self) -> SmtpPeer:
        # Run as a script, not `-m`: the package's __init__ would need Django set up.
        command = [sys.executable, str(Path(__file__).resolve())]
        command += ["--dir", str(self.folder), "--port", str(self.port)]
        if self.user:
            command += ["--user", self.user, "--password", self.password]
        self.process = subprocess.Popen(  # noqa: S603 - our own module, no shell
            command, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        assert self.process.stdout is not None
        line = _readline(self.process.stdout, timeout=20)
        if not line.startswith(READY):
            self.stop()
            raise RuntimeError(f"SMTP test server did not start: {line!r}")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    def __enter__(self) -> SmtpPeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what it answers ------------------------------------------------------------------

    def rules(self, *, rcpt: dict[str, str] | None = None, data: str = "") -> None:
        """Replace the answers: per recipient (or "*" for all) at RCPT, and at DATA."""
        rules = {"rcpt": rcpt or {}, "data": data}
        tmp = self.folder / "rules.json.tmp"
        tmp.write_text(json.dumps(rules))
        tmp.replace(self.folder / "rules.json")

    def behave(self, name: str) -> None:
        """A conformance behaviour (see BEHAVIOURS)."""
        if name not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {name!r}: use one of {', '.join(BEHAVIOURS)}")
        self.mode = name
        self.rules(
            rcpt={"*": "550 5.1.1 No such user"}
            if name == "reject"
            else {"*": "451 4.3.0 Mailbox busy, try later"}
            if name == "tempfail"
            else {},
            data="554 5.7.1 Message refused as spam" if name == "reject_data" else "",
        )

    def channel_values(self) -> tuple[dict[str, Any], dict[str, str]]:
        """A channel's (config, secrets) for this server, as the current behaviour wants."""
        config = {
            "host": "127.0.0.1",
            "port": free_port() if self.mode == "down" else self.port,
            "username": self.user,
            "use_tls": False,
            "use_ssl": False,
            "timeout": 5,
            "from_name": "Optique Test",
            "unsubscribe_mailto": "unsubscribe@example.org",
        }
        password = "wrong-pass-9999" if self.mode == "bad_credentials" else self.password
        return config, {"password": password}

    # -- what it stored -------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Each stored email's envelope, in order (the conformance harness reads this)."""
        return [json.loads(p.read_text()) for p in self._stored("json")]

    def emails(self) -> list[EmailMessage]:
        out = []
        for path in self._stored("eml"):
            parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            out.append(parsed)
        return out

    def clear(self) -> None:
        for path in [*self._stored("eml"), *self._stored("json")]:
            path.unlink()
        self.rules()

    def _stored(self, suffix: str) -> list[Path]:
        found = [p for p in self.folder.glob(f"*.{suffix}") if p.stem.isdigit()]
        return sorted(found, key=lambda p: int(p.stem))


def _readline(stream: Any, timeout: float) -> str:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return box[0].strip() if box else ""


# -- the server process --------------------------------------------------------------------


class _Handler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = len(list(folder.glob("*.eml")))

    def _rules(self) -> dict[str, Any]:
        try:
            rules: dict[str, Any] = json.loads((self.folder / "rules.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return rules

    async def handle_RCPT(  # aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        answers = self._rules().get("rcpt") or {}
        answer = answers.get(address.lower()) or answers.get("*")
        if answer:
            return str(answer)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        answer = self._rules().get("data")
        if answer:
            return str(answer)
        self.count += 1
        login = session.auth_data.login.decode() if session.authenticated else ""
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "peer": list(session.peer),
            "login": login,
        }
        (self.folder / f"{self.count}.eml").write_bytes(envelope.original_content)
        (self.folder / f"{self.count}.json").write_text(json.dumps(record))
        return "250 2.0.0 Queued"


def main() -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    # AUTH without TLS is the point here (loopback); aiosmtpd warns about it at each session.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", default="")
    parser.add_argument("--password", default="")
    args = parser.parse_args()

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (
            data.login.decode(),
            data.password.decode(),
        ) == (args.user, args.password)
        return AuthResult(success=ok, handled=False, auth_data=data)

    options: dict[str, Any] = {}
    if args.user:
        options = {"authenticator": authenticate, "auth_required": True, "auth_require_tls": False}
    controller = Controller(_Handler(args.dir), hostname="127.0.0.1", port=args.port, **options)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(READY, args.port, flush=True)
    while not stop.wait(0.2):
        pass
    controller.stop()


if __name__ == "__main__":
    main()
