"""A bind's settings and states, apart from the session that uses them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum


class State(StrEnum):
    CONNECTING = "connecting"
    BOUND = "bound"
    REFUSED = "refused"  # the SMSC refused our credentials: waits for a config change
    DOWN = "down"
    STOPPED = "stopped"


@dataclass(frozen=True)
class SessionConfig:
    host: str
    port: int
    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    window: int = 10
    use_sar: bool = False
    source_ton: int | None = None  # None: from the sender (alphanumeric 5/0, number 1/1)
    source_npi: int | None = None
    throughput: float = 0.0  # submit_sm per second this bind may send; 0: no limit
    enquire_link: float = 30.0  # seconds between keep-alives
    response_timeout: float = 10.0
    connect_timeout: float = 5.0
    backoff_min: float = 1.0
    backoff_max: float = 60.0
    parts_timeout: float = 10.0  # how long parts of a customer's long text are held

    def fingerprint(self) -> str:
        """Changes when any setting does, the password included (hashed, never shown)."""
        return hashlib.sha256(repr((self, self.password)).encode()).hexdigest()
