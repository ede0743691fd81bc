"""The loopback SMSC used by the tests, the conformance table and the benchmark.

It is a separate process: node-smpp (tests/smpp_server/smsc.js), an SMPP implementation
independent of this adapter's codec. Install it once with
`npm ci --prefix tests/smpp_server`. This class starts it, steers it over its HTTP
control port, and kills it.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

SERVER_DIR = Path(__file__).resolve().parents[3] / "tests" / "smpp_server"
SYSTEM_ID = "comptoir"
PASSWORD = "s3cr3tpw"  # 8 characters: the SMPP 3.4 maximum


class PeerUnavailable(RuntimeError):
    pass


class Smsc:
    """A running loopback SMSC; `behave()` steers it, `submits()` shows what it got."""

    def __init__(
        self, *, system_id: str = SYSTEM_ID, password: str = PASSWORD, port: int = 0
    ) -> None:
        self.system_id = system_id
        self.password = password
        self._wanted_port = port
        self.port = 0
        self.control = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Smsc:
        node = shutil.which("node")
        script = SERVER_DIR / "smsc.js"
        if node is None:
            raise PeerUnavailable("the loopback SMSC needs Node.js (`node` is not on PATH)")
        if not (SERVER_DIR / "node_modules" / "smpp").is_dir():
            raise PeerUnavailable(
                f"the loopback SMSC is not installed: run `npm ci --prefix {SERVER_DIR}`"
            )
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                node,
                str(script),
                "--system-id",
                self.system_id,
                "--password",
                self.password,
                "--port",
                str(self._wanted_port or self.port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise PeerUnavailable("the loopback SMSC exited before listening")
        ports = json.loads(line)
        self.port, self.control = ports["smpp"], ports["control"]
        return self

    def kill(self) -> None:
        """Gone at once, like a crashed SMSC: no unbind, open submits never answered."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        """A new process on the same port, with empty records."""
        self.kill()
        self._wanted_port = self.port
        self.start()

    def _call(self, method: str, path: str, data: Any = None) -> Any:
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.control}{path}",
            data=body,
            method=method,
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())

    def behave(self, name: str = "", **settings: Any) -> None:
        """A named behaviour (accept, reject, throttle, queue_full, silent, bad_credentials,
        receipts) and/or settings of tests/smpp_server/smsc.js's DEFAULTS; records emptied."""
        named: dict[str, dict[str, Any]] = {
            "": {},
            "accept": {},
            "reject": {"mode": "reject", "status": "ESME_RINVDSTADR"},
            "throttle": {"mode": "throttle"},
            "queue_full": {"mode": "queue_full"},
            "silent": {"mode": "silent"},
            "bad_credentials": {"bind": "fail"},
            "receipts": {"receipts": {"stat": "DELIVRD"}},
        }
        if name not in named:
            raise ValueError(f"the loopback SMSC has no behaviour {name!r}")
        self._call("POST", "/reset", {})
        self._call("POST", "/behave", {**named[name], **settings})

    def set(self, **settings: Any) -> None:
        self._call("POST", "/behave", settings)

    def stats(self) -> dict[str, Any]:
        return dict(self._call("GET", "/stats"))

    def submits(self, start: int = 0) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/submits?from={start}"))

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.submits()

    def binds(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/binds"))

    def deliver(self, *pdus: dict[str, Any]) -> list[dict[str, Any]]:
        """deliver_sm to the bound session; returns each deliver_sm_resp's status."""
        return list(self._call("POST", "/deliver", {"pdus": list(pdus)}))

    def garbage(self, data: bytes) -> int:
        return int(self._call("POST", "/garbage", {"hex": data.hex()})["sessions"])

    def drop(self) -> int:
        return int(self._call("POST", "/drop", {})["sessions"])
