"""The load generator of `bench inbound`: prepared raw requests over keep-alive HTTP/1.1.

Two ways to play them: at a fixed arrival rate (open loop: a request's latency counts from
when it was due, so a server that falls behind cannot hide its queue) or as fast as
`concurrency` connections go (closed loop).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

HOST = "127.0.0.1"
TIMEOUT = 30.0


class Delivery(Protocol):
    @property
    def raw(self) -> bytes:
        """The whole HTTP request."""
        ...


@dataclass
class Load:
    """What the load generator saw: one (status, latency, finished at) per request."""

    mode: str
    outcomes: list[tuple[str, float, float]] = field(default_factory=list)
    elapsed: float = 0.0
    exhausted: bool = False  # closed loop: every prepared request went before the time was up

    @property
    def statuses(self) -> Counter[str]:
        return Counter(status for status, _, _ in self.outcomes)

    @property
    def rate(self) -> float:
        return len(self.outcomes) / self.elapsed if self.elapsed else 0.0

    def latency(self, share: float) -> float:
        ordered = sorted(latency for _, latency, _ in self.outcomes)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0

    def per_second(self) -> list[int]:
        """Answers completed in each whole second of the run (the last partial one left out)."""
        seconds = Counter(int(done) for _, _, done in self.outcomes)
        return [seconds.get(s, 0) for s in range(int(self.elapsed))]


class _Connection:
    """One keep-alive HTTP/1.1 connection: a request written, its answer read whole."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.open = reader, writer, True

    @classmethod
    async def connect(cls, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def exchange(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        )
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readuntil(b"\r\n")
        else:
            await self.reader.read()
            self.open = False
        if headers.get("connection", "").lower() == "close":
            self.open = False
        return status

    def close(self) -> None:
        self.open = False
        self.writer.close()


async def _send(
    port: int, connection_: _Connection | None, raw: bytes
) -> tuple[str, _Connection | None]:
    """One request on a connection (opened if needed); a broken one is dropped."""
    try:
        if connection_ is None or not connection_.open:
            connection_ = await _Connection.connect(port)
        status = await asyncio.wait_for(connection_.exchange(raw), TIMEOUT)
        return str(status), connection_
    except TimeoutError:
        outcome = "timeout"
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        outcome = f"error: {type(exc).__name__}"
    if connection_ is not None:
        connection_.close()
    return outcome, None


async def open_loop(
    ports: Sequence[int], deliveries: Sequence[Delivery], *, rate: float, connections: int
) -> Load:
    """Request i is due at i / rate seconds; it waits for a free connection if none is.
    Connections are spread over the servers' ports, as a load balancer would."""
    loop = asyncio.get_running_loop()
    pool: asyncio.Queue[tuple[int, _Connection | None]] = asyncio.Queue()
    for index in range(connections):
        port = ports[index % len(ports)]
        pool.put_nowait((port, await _Connection.connect(port)))
    load = Load(mode=f"open loop, {rate:g} requests/s over {connections} connections")
    start = loop.time()

    async def one(raw: bytes, due: float) -> None:
        port, taken = await pool.get()
        status, kept = await _send(port, taken, raw)
        done = loop.time()
        pool.put_nowait((port, kept))
        load.outcomes.append((status, done - due, done - start))

    tasks = []
    for index, delivery in enumerate(deliveries):
        due = start + index / rate
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        tasks.append(asyncio.create_task(one(delivery.raw, due)))
    await asyncio.gather(*tasks)
    load.elapsed = loop.time() - start
    while not pool.empty():
        if (kept := pool.get_nowait()[1]) is not None:
            kept.close()
    return load


async def closed_loop(
    ports: Sequence[int], deliveries: Sequence[Delivery], *, concurrency: int, seconds: float
) -> Load:
    """`concurrency` connections, each sending its next request as soon as it is answered."""
    loop = asyncio.get_running_loop()
    pending = iter(deliveries)
    load = Load(mode=f"closed loop, {concurrency} connections")
    start = loop.time()
    deadline = start + seconds

    async def worker(port: int) -> None:
        kept: _Connection | None = await _Connection.connect(port)
        while loop.time() < deadline:
            delivery = next(pending, None)
            if delivery is None:
                load.exhausted = True
                break
            sent = loop.time()
            status, kept = await _send(port, kept, delivery.raw)
            done = loop.time()
            load.outcomes.append((status, done - sent, done - start))
        if kept is not None:
            kept.close()

    await asyncio.gather(*(worker(ports[i % len(ports)]) for i in range(concurrency)))
    load.elapsed = loop.time() - start
    return load
