"""Group commit: work that arrives together is written in one transaction.

A webhook is answered only once what it carries is committed, so under load every
request thread would wait for its own transaction, and on SQLite for its turn at the
one writer lock. Instead, the requests waiting at the same moment are stored together:
the first to arrive leads, takes everything queued (up to `max_batch`), runs it as one
batch, wakes the others with their results, and hands the lead to the next one waiting.
Nothing is delayed on purpose: a lone request is a batch of one, and batches grow only
while the previous one was being written.

When a batch fails as a whole, its items are run again one by one, so one bad item
cannot fail the requests it happened to arrive with (the failed batch was rolled back:
nothing of it was kept).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)
class _Ticket(Generic[T, R]):
    item: T
    woken: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    done: bool = False
    result: R | None = None
    error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """Runs `work(items) -> results` (one result per item, in order) on batches of items
    submitted concurrently; `submit` returns its item's result or raises its error."""

    def __init__(self, work: Callable[[Sequence[T]], Sequence[R]], *, max_batch: int) -> None:
        self._work = work
        self._max_batch = max(1, max_batch)
        self._lock = threading.Lock()
        self._queue: list[_Ticket[T, R]] = []
        self._busy = False  # a leader is running; while False, the queue is empty
        self.batches = 0  # how many batches ran, and the largest: for the benchmark's report
        self.largest = 0

    def submit(self, item: T) -> R:
        ticket: _Ticket[T, R] = _Ticket(item)
        with self._lock:
            self._queue.append(ticket)
            if not self._busy:
                self._busy = ticket.lead = True
        if not ticket.lead:
            ticket.woken.wait()  # with a result, or with the lead
        if not ticket.done:
            self._lead()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[return-value]

    def _lead(self) -> None:
        with self._lock:
            batch = self._queue[: self._max_batch]
            del self._queue[: len(batch)]
        try:
            self._run(batch)
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                if successor is None:
                    self._busy = False
                else:
                    successor.lead = True
            for ticket in batch:
                ticket.done = True
                ticket.woken.set()
            if successor is not None:
                successor.woken.set()

    def _run(self, batch: list[_Ticket[T, R]]) -> None:
        self.batches += 1
        self.largest = max(self.largest, len(batch))
        try:
            results = self._work([t.item for t in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            for ticket in batch:  # the batch was rolled back: each on its own
                try:
                    ticket.result = self._work([ticket.item])[0]
                except Exception as single:
                    ticket.error = single
            return
        except BaseException as exc:  # interrupted: nobody waits forever, nobody gets None
            for ticket in batch:
                ticket.error = exc
            raise
        for ticket, result in zip(batch, results, strict=True):
            ticket.result = result
