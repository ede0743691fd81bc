"""What a bind received and has not yet answered: the deliver_sm waiting to be stored.

Receipts often beat their own submit_sm_resp through the dispatcher: the SMSC sends the
receipt as soon as it answers, while the worker thread is still recording the batch as
sent. Stored then, a receipt matches no message and waits as a pending receipt (more
database work, done twice). So a receipt for a message id this bind gave out and the
dispatcher has not recorded yet is held until the dispatcher says it has (`recorded`),
or a moment after its batch returned when nobody says; everything is stored in batches.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
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
    """Deliveries ready to store, in arrival order, and receipts held back by message id.

    Every operation costs what it moves, never what is held: a bind sending 20,000
    messages in one go holds 20,000 receipts until its send returns, and reading them all
    again at each wake-up made the loop quadratic (a bare client loop ran 5x slower).
    """

    def __init__(self) -> None:
        self.items: deque[Delivered] = deque()
        self._held: dict[str, list[Delivered]] = {}  # message id -> its held receipts
        self._held_count = 0
        # (when, message id): a held id goes then at the latest, earliest first.
        self._deadlines: list[tuple[float, str]] = []
        # message id -> when its send_many returned (inf: still running), and when seen.
        self._unrecorded: dict[str, tuple[float, float]] = {}
        self._swept = 0.0

    def __len__(self) -> int:
        return len(self.items) + self._held_count

    def add(self, item: Delivered) -> None:
        event = item.event
        release = self._release_of(item)
        if release is None:
            self.items.append(item)
            return
        assert isinstance(event, StatusUpdate)
        self._held.setdefault(event.provider_id, []).append(item)
        self._held_count += 1
        heapq.heappush(self._deadlines, (min(release, item.arrived + HOLD_MAX), event.provider_id))

    def accepted(self, message_id: str) -> None:
        """The SMSC gave this id; the dispatcher has not recorded it yet."""
        now = time.monotonic()
        self._unrecorded[message_id] = (float("inf"), now)

    def returned(self, message_ids: list[str]) -> None:
        """These ids went back to the dispatcher, which records them right away."""
        now = time.monotonic()
        for message_id in message_ids:
            self._unrecorded[message_id] = (now + RECORD_GRACE, now)
            if message_id in self._held:
                heapq.heappush(self._deadlines, (now + RECORD_GRACE, message_id))

    def recorded(self, message_ids: list[str]) -> None:
        """The dispatcher committed these ids: their receipts are no longer racing."""
        for message_id in message_ids:
            self._unrecorded.pop(message_id, None)
            self._release(message_id)

    def take(self, limit: int) -> list[Delivered]:
        """Up to `limit` items ready to store; receipts racing their record stay."""
        now = time.monotonic()
        while self._deadlines and self._deadlines[0][0] <= now:
            self._release(heapq.heappop(self._deadlines)[1])
        ready = [self.items.popleft() for _ in range(min(limit, len(self.items)))]
        self._forget(now)
        return ready

    def waiting(self) -> bool:
        return bool(self.items) or bool(self._held)

    def _release_of(self, item: Delivered) -> float | None:
        """When a receipt arriving now may go, or None for at once (not racing)."""
        if not isinstance(item.event, StatusUpdate):
            return None
        release, _ = self._unrecorded.get(item.event.provider_id, (0.0, 0.0))
        return release if release > item.arrived else None

    def _release(self, message_id: str) -> None:
        held = self._held.pop(message_id, None)
        if held:
            self.items.extend(held)
            self._held_count -= len(held)

    def _forget(self, now: float) -> None:
        if len(self._unrecorded) < 10_000 or now - self._swept < SWEEP_EVERY:
            return
        self._swept = now
        self._unrecorded = {k: v for k, v in self._unrecorded.items() if now - v[1] < REMEMBER}
