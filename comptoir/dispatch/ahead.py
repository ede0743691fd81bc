"""Handing batches to the provider from a thread of their own, so the next is claimed meanwhile.

A batch the adapter takes whole (no rate limit) goes out in one `send_many`; claiming the
next (a transaction of a few statements, round trips to PostgreSQL) used to wait for it,
and the provider waited for the claim: an SMSC's window stood empty for a third of the
run. Here the batch goes from a sender thread while the dispatcher claims the next one.

A batch claimed ahead is `sending` (claimed and marked in one transaction, see
`claims.claim_sending`). If the run stops before it goes (the provider throttles or
fails, the adapter breaks), it goes back to the queue with its attempt uncounted
(`claims.unsend`); a crash in between leaves it to the reaper, like any `sending` row.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol

from django.db import connection

from comptoir.channels.models import Channel
from comptoir.dispatch import claims, voice
from comptoir.dispatch.recorder import Counts, Recorder, all_sent
from comptoir.providers.base import (
    ChannelConfig,
    Outcome,
    OutgoingMessage,
    ProviderType,
    SendResult,
)

log = logging.getLogger(__name__)

Rows = list[dict[str, Any]]


def hand_to_provider(
    channel: Channel, ptype: ProviderType, config: ChannelConfig, rows: Rows
) -> list[SendResult]:
    """Texts in one `send_many`, voice messages one `call` each; results in `rows` order."""
    texts = [r for r in rows if r["medium"] != "voice"]
    outgoing = [
        OutgoingMessage(
            reference=str(r["id"]),
            to=r["address"],
            sender=config.address,
            body=r["body"],
            encoding=r["encoding"],
            segments=r["segments"],
            subject=r["subject"],
        )
        for r in texts
    ]
    by_id = dict(zip([r["id"] for r in texts], ptype.send_many(config, outgoing), strict=True))
    language = channel.workspace.language
    for row in rows:
        if row["medium"] == "voice":
            by_id[row["id"]] = voice.call_place(ptype, config, row, language)
    return [by_id[r["id"]] for r in rows]


def handed(
    channel: Channel, ptype: ProviderType, config: ChannelConfig, rows: Rows
) -> list[SendResult] | None:
    """The provider's answers, or None when the adapter raised (logged without its
    traceback, which could carry credentials): it may or may not have the messages."""
    try:
        return hand_to_provider(channel, ptype, config, rows)
    except Exception as exc:
        log.error(
            "adapter %s raised on channel %s: %s",
            ptype.code,
            channel.id,
            redacted(f"{type(exc).__name__}: {exc}", ptype.redact_values(config)),
        )
        return None


def redacted(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return text


def _close_connection() -> None:
    connection.close()  # the sender thread's own (an adapter may write, e.g. the sandbox)


class Report(Counts, Protocol):
    """What a dispatch run reports (dispatcher.DispatchReport), as this module uses it."""

    claimed: int
    blocked: int
    more: bool
    retry_in: float


def answered(
    channel: Channel,
    rows: Rows,
    results: list[SendResult] | None,
    token: uuid.UUID,
    report: Report,
    recorder: Recorder,
) -> bool:
    """Record a batch's answers; False when the run must stop sending."""
    if results is None:
        # The adapter broke its contract; the provider may or may not have the messages,
        # so they stay `sending` for the reaper to settle rather than risk a duplicate.
        return False
    if all_sent(results):
        recorder.submit(channel, rows, results, token)  # written while the next goes
        return True
    recorder.in_line(channel, rows, results, token)
    if report.tripped:
        return False  # not one more through a provider that is down: the rest goes to the backup
    throttled = [r for r in results if r.outcome is Outcome.THROTTLED]
    if throttled:
        report.retry_in = max(r.retry_after or 1.0 for r in throttled)
        return False
    return True


def send_ahead(
    channel: Channel,
    ptype: ProviderType,
    config: ChannelConfig,
    size: int,
    deadline: float,
    report: Report,
    recorder: Recorder,
    helper: Callable[[], object] | None,
) -> None:
    """Whole batches until the deadline or the queue is empty, each claimed while the one
    before is with the provider; one claimed ahead that will not go is put back."""
    ahead = Ahead(partial(handed, channel, ptype, config))
    flying: tuple[Rows, uuid.UUID] | None = None
    try:
        while True:
            past = time.monotonic() >= deadline
            claimed, ready = 0, None
            if not past:
                token = uuid.uuid4()
                claimed, may_go = claims.claim_sending(channel, size, token)
                if helper is not None and claimed == size:
                    helper()  # a backlog: one more run beside this one
                    helper = None
                report.claimed += claimed
                report.blocked += claimed - len(may_go)
                ready = (may_go, token) if may_go else None
            if flying is not None:
                rows, token_sent = flying
                flying = None
                if not answered(channel, rows, ahead.result(), token_sent, report, recorder):
                    if ready is not None:
                        claims.unsend(*ready)
                    return
            if ready is not None:
                ahead.submit(ready[0])
                flying = ready
            elif not claimed:
                report.more = past
                return
    finally:
        ahead.close()  # a batch still out (an error here) waits for its answer first


class Ahead:
    """One batch at a time with the provider, from a thread of its own."""

    def __init__(self, send: Callable[[Rows], list[SendResult] | None]) -> None:
        self._send = send
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="dispatch-send")
        self._flying: Future[list[SendResult] | None] | None = None

    def submit(self, rows: Rows) -> None:
        assert self._flying is None, "one batch at a time"
        self._flying = self._pool.submit(self._send, rows)

    def result(self) -> list[SendResult] | None:
        """The batch's answers (None: the adapter raised), once the provider gave them."""
        assert self._flying is not None
        flying, self._flying = self._flying, None
        return flying.result()

    def close(self) -> None:
        try:
            self._pool.submit(_close_connection).result()
        finally:
            self._pool.shutdown()
