"""One bind to one SMSC account, kept up: the connection side of an SMPP session.

The bind is a transceiver one (bind_transceiver), kept alive with enquire_link, and made
again after any loss with exponential backoff. Each response is matched to its request
by sequence number; each deliver_sm goes to `_on_deliver`, which `client.Session`
implements along with the sends.

Nothing here touches Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, SupportsIndex

from comptoir.providers.smpp import pdu
from comptoir.providers.smpp.config import SessionConfig, State
from comptoir.providers.smpp.pdu import Command, PduError, status_name

log = logging.getLogger(__name__)

StateListener = Callable[["State", str], Awaitable[None]]
MAX_SEQUENCE = 0x7FFFFFFF
# Linux only; elsewhere the kernel's delayed acknowledgement stays as it is.
TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


class ConnectionLost(ConnectionError):
    pass


class BindRefused(Exception):
    """The SMSC answered the bind with an error status: our credentials, not the network."""


class _Reader(asyncio.StreamReader):
    """A stream reader that acknowledges each chunk the SMSC sends as it arrives.

    Many SMSCs leave Nagle's algorithm on: a PDU waits until the one before it is
    acknowledged. While we are sending, our next submit_sm carries that acknowledgement;
    when the window runs dry (the end of every batch) nothing does until the kernel's
    delayed-ACK timer fires, and the last answers of each batch came 40 ms late (a batch
    of 200 took 57 ms instead of 12). Linux leaves quick-ack mode by itself, so it is
    asked again for each chunk (one system call per read, not per PDU).
    """

    sock: Any = None  # the transport's socket, where TCP_QUICKACK exists

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:
        super().feed_data(data)
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 1)


async def _open(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """`asyncio.open_connection`, with a reader that acknowledges at once (Linux)."""
    loop = asyncio.get_running_loop()
    reader = _Reader(loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await loop.create_connection(lambda: protocol, host, port)
    if TCP_QUICKACK is not None:
        reader.sock = transport.get_extra_info("socket")
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    generation: int

    def write(self, data: bytes) -> None:
        if self.writer.is_closing():
            raise ConnectionLost("connection closed")
        self.writer.write(data)

    def close(self) -> None:
        self.writer.close()


class Bind:
    """The bind under a `Session`: connecting, binding, reading, and binding again."""

    def __init__(self, config: SessionConfig, on_state: StateListener) -> None:
        self.config = config
        self.on_state = on_state
        self.state = State.CONNECTING
        self.reason = ""  # why the session is not bound, in words
        self._conn: Connection | None = None
        self._generation = 0
        self._sequence = 0
        self._pending: dict[int, asyncio.Future[tuple[int, int, bytes]]] = {}
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._where = f"{config.system_id}@{config.host}:{config.port}"

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(), name=f"smpp {self._where}")]

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
                await self._set_state(State.DOWN, f"connection to {self._where} lost: {why(exc)}")
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
            reader, writer = await _open(cfg.host, cfg.port)
        self._generation += 1
        conn = Connection(reader, writer, self._generation)
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

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(ConnectionLost(reason))

    # -- reading -------------------------------------------------------------------------

    async def _read(self, conn: Connection) -> tuple[pdu.Header, bytes]:
        head = await conn.reader.readexactly(pdu.HEADER.size)
        header = pdu.parse_header(head)
        body = await conn.reader.readexactly(header.length - pdu.HEADER.size)
        return header, body

    async def _read_loop(self, conn: Connection) -> None:
        while True:
            header, body = await self._read(conn)
            if header.is_response:
                self._on_response(header, body)
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

    async def _keep_alive(self, conn: Connection) -> None:
        while self.state is not State.STOPPED:
            await asyncio.sleep(self.config.enquire_link)
            answer = await self._request(conn, Command.ENQUIRE_LINK, b"")
            if answer[1] != pdu.ESME_ROK:
                log.info("smpp %s: enquire_link answered %s", self._where, status_name(answer[1]))

    async def _request(self, conn: Connection, command: int, body: bytes) -> tuple[int, int, bytes]:
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

    def _on_response(self, header: pdu.Header, body: bytes) -> None:
        """A response arrived: seen here before anything read after it (its waiting
        request resumes only later, on the loop's next turn)."""

    def _on_deliver(self, conn: Connection, sequence: int, body: bytes) -> None:
        """A deliver_sm arrived on `conn`: the session answers it, at once or once stored."""
        raise NotImplementedError


def why(exc: BaseException) -> str:
    """An error in words, for a state's reason or a send's: some exceptions have no text."""
    return str(exc) or type(exc).__name__
