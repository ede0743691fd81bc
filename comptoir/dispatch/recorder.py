"""Recording a batch's results while the next batch goes to the provider.

A fast provider (an SMSC answering a window of submit_sm in a few milliseconds) would
otherwise wait for the database after every batch. A batch the provider took whole
(every result `sent`) cannot trip the channel's failover nor slow it down, so nothing
the dispatcher decides next depends on its record: it is written by a thread of its own,
in order, while the dispatcher claims and sends the next one. Any other batch is
recorded in line, after the ones still being written, as before.

Nothing changes for a crash: until its record commits, a batch's rows are `sending`
with the run's claim token, and the reaper settles them (never re-sent blindly).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from django.db import connection

from comptoir.channels.models import Channel
from comptoir.providers.base import Outcome, SendResult

# Batches written behind the dispatcher at most: more waits for the oldest (memory, and
# the rows' lease).
MAX_BEHIND = 2


def _close_connection() -> None:
    # Run in the recording thread: its own database connection goes with it (the proxy
    # is resolved here, not in the caller's thread).
    connection.close()


class Counts(Protocol):
    sent: int
    failed: int
    unconfirmed: int
    retried: int
    tripped: bool
    outcomes: dict[str, int]


Record = Callable[[Channel, Sequence[dict[str, Any]], Sequence[SendResult], uuid.UUID, Any], None]


def all_sent(results: Sequence[SendResult]) -> bool:
    return all(r.outcome is Outcome.SENT for r in results)


class Recorder:
    """One per dispatcher run; `close()` waits for every record and merges its counts."""

    def __init__(self, record: Record, report: Counts, new_report: Callable[[], Counts]) -> None:
        self._record = record
        self._report = report
        self._new_report = new_report
        self._pool: ThreadPoolExecutor | None = None
        self._behind: list[Future[Counts]] = []

    def submit(
        self,
        channel: Channel,
        rows: Sequence[dict[str, Any]],
        results: Sequence[SendResult],
        token: uuid.UUID,
    ) -> None:
        """Record an all-sent batch in the background (in line inside a transaction:
        another connection could not see its rows)."""
        if connection.in_atomic_block:
            self.drain()
            self._record(channel, rows, results, token, self._report)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="dispatch-record")
        self._behind.append(self._pool.submit(self._write, channel, rows, results, token))
        while len(self._behind) > MAX_BEHIND:
            self._merge(self._behind.pop(0))

    def _write(
        self,
        channel: Channel,
        rows: Sequence[dict[str, Any]],
        results: Sequence[SendResult],
        token: uuid.UUID,
    ) -> Counts:
        counts = self._new_report()
        self._record(channel, rows, results, token, counts)
        return counts

    def _merge(self, future: Future[Counts]) -> None:
        counts = future.result()  # a failed record raises here, as it would in line
        report = self._report
        report.sent += counts.sent
        report.failed += counts.failed
        report.unconfirmed += counts.unconfirmed
        report.retried += counts.retried
        report.tripped = report.tripped or counts.tripped
        for outcome, n in counts.outcomes.items():
            report.outcomes[outcome] = report.outcomes.get(outcome, 0) + n

    def drain(self) -> None:
        """Wait for the records behind (before one in line: records keep their order)."""
        while self._behind:
            self._merge(self._behind.pop(0))

    def close(self) -> None:
        try:
            self.drain()
        finally:
            if self._pool is not None:
                self._pool.submit(_close_connection).result()
                self._pool.shutdown()
                self._pool = None
