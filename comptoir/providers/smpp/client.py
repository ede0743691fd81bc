"""An asyncio SMPP 3.4 transceiver session: one long-lived bind to one SMSC account.

The session binds (bind_transceiver), keeps the bind alive with enquire_link, and binds
again after any loss with exponential backoff. Sends go through a window: at most
`window` submit_sm wait for their submit_sm_resp at once. Every deliver_sm (receipt or
customer text) is handed to the sink — which stores it — before deliver_sm_resp is
written, so the SMSC delivers again whatever we did not store.

Nothing here touches Django: `sessions.py` wires a session to the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from comptoir.providers.base import Event, OutgoingMessage, SendResult
from comptoir.providers.smpp import pdu
from comptoir.providers.smpp.config import SessionConfig, State
from comptoir.providers.smpp.deliver import MoPart, Reassembler, parse
from comptoir.providers.smpp.inbox import Delivered, Inbox
from comptoir.providers.smpp.pdu import Command, PduError, ShortMessage, status_name
from comptoir.providers.smpp.submit import (
    PartAnswer,
    message_pdus,
    not_bound,
    outcome,
    unsendable,
)

log = logging.getLogger(__name__)

Sink = Callable[[list[Event]], Awaitable[None]]
StateListener = Callable[["State", str], Awaitable[None]]
MAX_SEQUENCE = 0x7FFFFFFF
INBOUND_BATCH = 500
INBOUND_GATHER = 0.1  # seconds; SMSCs wait 10 s or more for a deliver_sm_resp
MAX_THROTTLE_PAUSE = 30.0


class ConnectionLost(ConnectionError):
    pass


class BindRefused(Exception):
    """The SMSC answered the bind with an error status: our credentials, not the network."""


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    generation: int

    def write(self, data: bytes) -> None:
        if self.writer.is_closing():
            raise ConnectionLost("connection closed")
        self.writer.write(data)

    def close(self) -> None:
        self.writer.close()


class Session:
    """One bind. Start it with `start()` inside the loop that will run it."""

    def __init__(self, config: SessionConfig, sink: Sink, on_state: StateListener) -> None:
        self.config = config
        self.sink = sink
        self.on_state = on_state
        self.state = State.CONNECTING
        self.reason = ""  # why the session is not bound, in words
        self._conn: _Connection | None = None
        self._generation = 0
        self._sequence = 0
        self._pending: dict[int, asyncio.Future[tuple[int, int, bytes]]] = {}
        self._window = asyncio.Semaphore(config.window)
        self._changed = asyncio.Event()
        self._wake = asyncio.Event()
        self._next_slot = 0.0
        self._throttled_until = 0.0
        self._throttle_pause = 1.0
        self._reference = 0
        self._inbox = Inbox()
        self._inbox_ready = asyncio.Event()
        self._reassembler = Reassembler(config.parts_timeout)
        self._tasks: list[asyncio.Task[None]] = []
        self._where = f"{config.system_id}@{config.host}:{config.port}"

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"smpp {self._where}"),
            asyncio.create_task(self._store_inbound(), name=f"smpp inbound {self._where}"),
        ]

    async def stop(self) -> None:
        self.state = State.STOPPED
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.write(pdu.encode(Command.UNBIND, self._next_sequence()))
        for task in self._tasks:
            task.cancel()
        # Bounded: a task that missed its cancellation still sees STOPPED and ends.
        await asyncio.wait(self._tasks, timeout=5)
        if conn is not None:
            conn.close()
        self._fail_pending("session stopped")

    async def wait_bound(self, timeout: float) -> bool:
        """True once bound; False at once when the SMSC refused us, or after `timeout`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.state not in (State.BOUND, State.REFUSED):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._changed.wait()
        return self.state is State.BOUND

    async def _set_state(self, state: State, reason: str = "") -> None:
        changed = (state, reason) != (self.state, self.reason)
        self.state, self.reason = state, reason
        self._changed.set()
        if changed:
            try:
                await self.on_state(state, reason)
            except Exception as exc:
                log.error("smpp %s: recording state %s failed: %s", self._where, state, exc)

    async def _run(self) -> None:
        backoff = self.config.backoff_min
        while self.state is not State.STOPPED:
            try:
                await self._connect_and_serve()
                backoff = self.config.backoff_min
            except BindRefused:
                pass  # the state says it; the next try waits as long as after a failure
            except PduError as exc:
                await self._set_state(State.DOWN, f"the SMSC sent bytes that are not SMPP: {exc}")
            except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError) as exc:
                await self._set_state(State.DOWN, f"connection to {self._where} lost: {_why(exc)}")
            finally:
                self._drop()
            if self.state is State.STOPPED:
                return
            log.warning("smpp %s: %s; binding again in %.1f s", self._where, self.reason, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.config.backoff_max)

    async def _connect_and_serve(self) -> None:
        cfg = self.config
        if self.state is not State.REFUSED:
            await self._set_state(State.CONNECTING, self.reason)
        async with asyncio.timeout(cfg.connect_timeout):
            reader, writer = await asyncio.open_connection(cfg.host, cfg.port)
        self._generation += 1
        conn = _Connection(reader, writer, self._generation)
        self._conn = conn
        sequence = self._next_sequence()
        conn.write(
            pdu.bind_transceiver(
                sequence,
                system_id=cfg.system_id,
                password=cfg.password,
                system_type=cfg.system_type,
                ton=0,
                npi=0,
            )
        )
        async with asyncio.timeout(cfg.response_timeout):
            header, _ = await self._read(conn)
        if header.command_id not in (Command.BIND_TRANSCEIVER_RESP, Command.GENERIC_NACK):
            raise PduError(f"expected bind_transceiver_resp, got command 0x{header.command_id:08X}")
        if header.status != pdu.ESME_ROK:
            name = status_name(header.status)
            await self._set_state(State.REFUSED, f"the SMSC refused the bind: {name}")
            raise BindRefused(name)
        await self._set_state(State.BOUND)
        log.info("smpp %s: bound (transceiver, window %d)", self._where, cfg.window)
        readers = [
            asyncio.create_task(self._read_loop(conn)),
            asyncio.create_task(self._keep_alive(conn)),
        ]
        try:
            done, _ = await asyncio.wait(readers, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        if self.state is State.BOUND:
            self.state = State.DOWN
            self._changed.set()
        self._fail_pending(self.reason or "connection lost")
        self._reassembler.clear()

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(ConnectionLost(reason))

    # -- reading -------------------------------------------------------------------------

    async def _read(self, conn: _Connection) -> tuple[pdu.Header, bytes]:
        head = await conn.reader.readexactly(pdu.HEADER.size)
        header = pdu.parse_header(head)
        body = await conn.reader.readexactly(header.length - pdu.HEADER.size)
        return header, body

    async def _read_loop(self, conn: _Connection) -> None:
        while True:
            header, body = await self._read(conn)
            if header.is_response:
                future = self._pending.pop(header.sequence, None)
                if future is not None and not future.done():
                    future.set_result((header.command_id, header.status, body))
            elif header.command_id == Command.DELIVER_SM:
                self._on_deliver(conn, header.sequence, body)
            elif header.command_id == Command.ENQUIRE_LINK:
                conn.write(pdu.encode(Command.ENQUIRE_LINK_RESP, header.sequence))
            elif header.command_id == Command.UNBIND:
                conn.write(pdu.encode(Command.UNBIND_RESP, header.sequence))
                raise ConnectionLost("the SMSC unbound")
            else:
                conn.write(
                    pdu.encode(Command.GENERIC_NACK, header.sequence, status=pdu.ESME_RINVCMDID)
                )

    async def _keep_alive(self, conn: _Connection) -> None:
        while self.state is not State.STOPPED:
            await asyncio.sleep(self.config.enquire_link)
            answer = await self._request(conn, Command.ENQUIRE_LINK, b"")
            if answer[1] != pdu.ESME_ROK:
                log.info("smpp %s: enquire_link answered %s", self._where, status_name(answer[1]))

    async def _request(
        self, conn: _Connection, command: int, body: bytes
    ) -> tuple[int, int, bytes]:
        sequence = self._next_sequence()
        future: asyncio.Future[tuple[int, int, bytes]] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = future
        conn.write(pdu.encode(command, sequence, body))
        try:
            # asyncio.timeout, not wait_for: no extra task per submit_sm on the hot path.
            async with asyncio.timeout(self.config.response_timeout):
                return await future
        except TimeoutError:
            self._pending.pop(sequence, None)
            # An SMSC that stops answering is treated as gone: bind again.
            conn.close()
            raise

    def _next_sequence(self) -> int:
        self._sequence = self._sequence % MAX_SEQUENCE + 1
        return self._sequence

    # -- receiving -----------------------------------------------------------------------

    def _on_deliver(self, conn: _Connection, sequence: int, body: bytes) -> None:
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
                return PartAnswer(error=_why(exc), written=True)
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
            if message_id:
                self._inbox.accepted(message_id)
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


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
