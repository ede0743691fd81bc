"""What a bind received and has not yet answered: the deliver_sm waiting to be stored.

Receipts often beat their own submit_sm_resp through the dispatcher: the SMSC sends the
receipt as soon as it answers, while the worker thread is still recording the batch as
sent. Stored then, a receipt matches no message and waits as a pending receipt (more
database work, done twice). So a receipt for a message id this bind gave out and the
dispatcher has not recorded yet is held until the dispatcher says it has (`recorded`),
or a moment after its batch returned when nobody says; everything is stored in batches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from comptoir.providers.base import Event, StatusUpdate

# After send_many returns, the dispatcher records its batch (behind the next one) and
# says so (`recorded`); without that word, receipts wait this long at most.
RECORD_GRACE = 2.0
# Never hold a receipt longer than this (a batch whose send_many never returned).
HOLD_MAX = 5.0
# A message id not seen in a receipt by then is forgotten (most receipts come in seconds).
REMEMBER = 120.0
# How often the ids are swept for forgotten ones, at most (a sweep reads them all).
SWEEP_EVERY = 10.0


@dataclass
class Delivered:
    """One received thing to store, and the deliver_sm it answers."""

    event: Event
    sequences: list[int]
    generation: int  # the connection it came on: answers go on that one only
    arrived: float = field(default_factory=time.monotonic)


class Inbox:
    def __init__(self) -> None:
        self.items: list[Delivered] = []
        # message id -> when its send_many returned (inf: still running), and when seen.
        self._unrecorded: dict[str, tuple[float, float]] = {}
        self._swept = 0.0

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: Delivered) -> None:
        self.items.append(item)

    def accepted(self, message_id: str) -> None:
        """The SMSC gave this id; the dispatcher has not recorded it yet."""
        now = time.monotonic()
        self._unrecorded[message_id] = (float("inf"), now)

    def returned(self, message_ids: list[str]) -> None:
        """These ids went back to the dispatcher, which records them right away."""
        now = time.monotonic()
        for message_id in message_ids:
            self._unrecorded[message_id] = (now + RECORD_GRACE, now)

    def recorded(self, message_ids: list[str]) -> None:
        """The dispatcher committed these ids: their receipts are no longer racing."""
        for message_id in message_ids:
            self._unrecorded.pop(message_id, None)

    def take(self, limit: int) -> list[Delivered]:
        """Up to `limit` items ready to store; receipts racing their record stay."""
        now = time.monotonic()
        ready: list[Delivered] = []
        held: list[Delivered] = []
        for item in self.items:
            if len(ready) < limit and not self._racing(item, now):
                ready.append(item)
            else:
                held.append(item)
        self.items = held
        self._forget(now)
        return ready

    def waiting(self) -> bool:
        return bool(self.items)

    def _racing(self, item: Delivered, now: float) -> bool:
        if not isinstance(item.event, StatusUpdate) or now - item.arrived > HOLD_MAX:
            return False
        release, _ = self._unrecorded.get(item.event.provider_id, (0.0, 0.0))
        return release > now

    def _forget(self, now: float) -> None:
        if len(self._unrecorded) < 10_000 or now - self._swept < SWEEP_EVERY:
            return
        self._swept = now
        self._unrecorded = {k: v for k, v in self._unrecorded.items() if now - v[1] < REMEMBER}
