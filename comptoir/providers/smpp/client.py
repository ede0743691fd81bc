"""An asyncio SMPP 3.4 transceiver session: one long-lived bind to one SMSC account.

The bind itself (bind_transceiver, enquire_link, binding again after any loss with
exponential backoff) is `bind.py`'s; the session adds the traffic. Sends go through a
window: at most `window` submit_sm wait for their submit_sm_resp at once. Every
deliver_sm (receipt or customer text) is handed to the sink — which stores it — before
deliver_sm_resp is written, so the SMSC delivers again whatever we did not store.

Nothing here touches Django: `sessions.py` wires a session to the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from comptoir.providers.base import Event, OutgoingMessage, SendResult
from comptoir.providers.smpp import pdu
from comptoir.providers.smpp.bind import Bind, Connection, StateListener, why
from comptoir.providers.smpp.config import SessionConfig, State
from comptoir.providers.smpp.deliver import MoPart, Reassembler, parse
from comptoir.providers.smpp.inbox import Delivered, Inbox
from comptoir.providers.smpp.pdu import Command, PduError, ShortMessage
from comptoir.providers.smpp.submit import (
    PartAnswer,
    message_pdus,
    not_bound,
    outcome,
    unsendable,
)

log = logging.getLogger(__name__)

Sink = Callable[[list[Event]], Awaitable[None]]
INBOUND_BATCH = 500
INBOUND_GATHER = 0.1  # seconds; SMSCs wait 10 s or more for a deliver_sm_resp
MAX_THROTTLE_PAUSE = 30.0


class Session(Bind):
    """One bind. Start it with `start()` inside the loop that will run it."""

    def __init__(self, config: SessionConfig, sink: Sink, on_state: StateListener) -> None:
        super().__init__(config, on_state)
        self.sink = sink
        self._window = asyncio.Semaphore(config.window)
        self._wake = asyncio.Event()
        self._next_slot = 0.0
        self._throttled_until = 0.0
        self._throttle_pause = 1.0
        self._reference = 0
        self._inbox = Inbox()
        self._inbox_ready = asyncio.Event()
        self._reassembler = Reassembler(config.parts_timeout)

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        super().start()
        self._tasks.append(
            asyncio.create_task(self._store_inbound(), name=f"smpp inbound {self._where}")
        )

    def _drop(self) -> None:
        super()._drop()
        self._reassembler.clear()

    # -- receiving -----------------------------------------------------------------------

    def _on_response(self, header: pdu.Header, body: bytes) -> None:
        # The SMSC may send a message's receipt right behind its submit_sm_resp, often in
        # the same read: the id must be known as ours, and unrecorded, before that
        # receipt is looked at, not once the waiting submit resumes.
        if header.command_id != Command.SUBMIT_SM_RESP or header.status != pdu.ESME_ROK:
            return
        with contextlib.suppress(PduError):  # the submit itself says what was wrong
            message_id = pdu.response_id(body, "submit_sm_resp", "message_id")
            if message_id:
                self._inbox.accepted(message_id)

    def _on_deliver(self, conn: Connection, sequence: int, body: bytes) -> None:
        try:
            item = parse(ShortMessage.decode(body, "deliver_sm"))
        except PduError as exc:
            # It will never read better: refuse it for good rather than have it again.
            log.warning("smpp %s: unreadable deliver_sm refused: %s", self._where, exc)
            refused = pdu.STATUS["ESME_RX_P_APPN"]
            conn.write(pdu.encode(Command.DELIVER_SM_RESP, sequence, b"\x00", refused))
            return
        event: Event
        if isinstance(item, MoPart):
            complete = self._reassembler.add(item, sequence)
            if complete is None:
                return  # answered with the rest of its set
            event, sequences = complete
        else:
            event, sequences = item, [sequence]
        self._inbox.add(Delivered(event, sequences, conn.generation))
        self._inbox_ready.set()

    async def _store_inbound(self) -> None:
        """Store what arrived, in batches, then answer each deliver_sm."""
        while self.state is not State.STOPPED:
            with contextlib.suppress(TimeoutError):
                # Held receipts are looked at again soon; otherwise wait for news.
                async with asyncio.timeout(INBOUND_GATHER if self._inbox.waiting() else 1.0):
                    await self._inbox_ready.wait()
            self._inbox_ready.clear()
            if 0 < len(self._inbox) < INBOUND_BATCH:
                # Gather a little: one transaction for many deliveries.
                await asyncio.sleep(INBOUND_GATHER)
            for event, sequences in self._reassembler.expired():
                log.warning("smpp %s: a long text never got all its parts", self._where)
                self._inbox.add(Delivered(event, sequences, self._generation))
            while batch := self._inbox.take(INBOUND_BATCH):
                await self._store_batch(batch)

    async def _store_batch(self, batch: list[Delivered]) -> None:
        status = pdu.ESME_ROK
        try:
            await self.sink([item.event for item in batch])
        except Exception as exc:
            # Temporary error: the SMSC keeps them and delivers them again later.
            log.error("smpp %s: storing %d deliveries failed: %s", self._where, len(batch), exc)
            status = pdu.ESME_RX_T_APPN
        conn = self._conn
        for item in batch:
            if conn is None or conn.generation != item.generation:
                continue  # that connection is gone: the SMSC delivers them again
            for sequence in item.sequences:
                with contextlib.suppress(ConnectionError):
                    conn.write(pdu.encode(Command.DELIVER_SM_RESP, sequence, b"\x00", status))

    # -- sending -------------------------------------------------------------------------

    def recorded(self, message_ids: list[str]) -> None:
        """(On the loop.) The dispatcher committed these: their receipts may be stored."""
        self._inbox.recorded(message_ids)
        self._inbox_ready.set()

    async def send_many(self, messages: Sequence[OutgoingMessage]) -> list[SendResult | None]:
        """Submit each message (all its parts) through the window; one result each, None
        for a message the SMSC may have but never confirmed."""
        if not await self.wait_bound(self.config.connect_timeout):
            return [self._unavailable() for _ in messages]
        tasks = [asyncio.create_task(self._send_one(m)) for m in messages]
        results = list(await asyncio.gather(*tasks))
        self._inbox.returned([r.provider_id for r in results if r is not None and r.provider_id])
        return results

    def _unavailable(self) -> SendResult:
        return not_bound(self.state is State.REFUSED, self.reason, self.config.backoff_max)

    async def _send_one(self, message: OutgoingMessage) -> SendResult | None:
        self._reference = (self._reference + 1) % 256
        try:
            pdus = message_pdus(message, self.config, self._reference)
        except PduError as exc:
            return unsendable(exc)
        if len(pdus) == 1:
            answers = [await self._submit(pdus[0])]
        else:
            answers = list(await asyncio.gather(*(self._submit(p) for p in pdus)))
        retried = 0
        while retried < 3 and _partly_throttled(answers):
            # Some parts are in: the others must follow, or the customer gets half a text.
            await asyncio.sleep(self._throttle_pause)
            retried += 1
            for i, answer in enumerate(answers):
                if answer.throttled:
                    answers[i] = await self._submit(pdus[i])
        return outcome(answers, self._throttle_pause)

    async def _submit(self, body: bytes) -> PartAnswer:
        async with self._window:
            await self._pace()
            if time.monotonic() < self._throttled_until:
                return PartAnswer(status=pdu.ESME_RTHROTTLED, written=False)
            conn = self._conn
            if conn is None or self.state is not State.BOUND:
                return PartAnswer(error=self.reason or "not bound", written=False)
            try:
                _, status, answer = await self._request(conn, Command.SUBMIT_SM, body)
            except (ConnectionError, TimeoutError) as exc:
                return PartAnswer(error=why(exc), written=True)
            if status in (pdu.ESME_RTHROTTLED, pdu.ESME_RMSGQFUL):
                now = time.monotonic()
                if now >= self._throttled_until:
                    # One slow-down per episode, however many of the window hear "no".
                    self._throttled_until = now + self._throttle_pause
                    self._throttle_pause = min(self._throttle_pause * 2, MAX_THROTTLE_PAUSE)
                return PartAnswer(status=status, written=True)
            self._throttle_pause = 1.0
            try:
                message_id = (
                    pdu.response_id(answer, "submit_sm_resp", "message_id") if not status else ""
                )
            except PduError as exc:
                # Accepted, but under what id nobody can tell: the stream is not trusted.
                log.warning("smpp %s: unreadable submit_sm_resp: %s", self._where, exc)
                conn.close()
                return PartAnswer(error=str(exc), written=True)
            return PartAnswer(status=status, message_id=message_id, written=True)

    async def _pace(self) -> None:
        if self.config.throughput <= 0:
            return
        now = time.monotonic()
        slot = max(now, self._next_slot)
        self._next_slot = slot + 1.0 / self.config.throughput
        if slot > now:
            await asyncio.sleep(slot - now)


def _partly_throttled(answers: Sequence[PartAnswer]) -> bool:
    return any(a.throttled for a in answers) and any(a.accepted for a in answers)
