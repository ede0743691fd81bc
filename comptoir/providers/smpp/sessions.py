"""Where the binds live: one asyncio loop in a background thread per process, one bind
per channel.

Huey's worker threads call `send_many` synchronously; it hands the chunk to the loop and
waits for the answers. Receipts and customers' texts are stored through `events_store`
on a database thread (never in the loop: the ORM blocks) before the SMSC is answered.
Binds start with the worker (see `tasks.py`) so inbound traffic flows even when nothing
is sent, and a minute tick keeps them in line with the channels (new, changed, removed).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import cache
from typing import Any, TypeVar

from comptoir.providers.base import ChannelConfig, Event, OutgoingMessage, SendResult
from comptoir.providers.smpp.bind import StateListener
from comptoir.providers.smpp.client import Session, Sink
from comptoir.providers.smpp.config import SessionConfig, State

log = logging.getLogger(__name__)
T = TypeVar("T")

BIND_REFUSED = "the SMSC refused the bind"


def _store(channel_uuid: str, events: list[Event]) -> None:
    from django.db import close_old_connections

    from comptoir.channels.recent import channel_recent
    from comptoir.messaging.inbound import events_store

    close_old_connections()
    channel = channel_recent(channel_uuid)
    if channel is None:
        raise LookupError(f"channel {channel_uuid} is gone")  # the SMSC delivers them again
    events_store(channel=channel, events=events)


def _close_connections() -> None:
    from django.db import connections

    connections.close_all()


def _record_state(channel_uuid: str, state: State, reason: str) -> None:
    """A refused bind marks the channel failing (messages wait); a bind clears that."""
    from django.db import close_old_connections

    from comptoir.channels.models import Channel, ChannelStatus

    close_old_connections()
    if state is State.REFUSED:
        Channel.objects.filter(id=channel_uuid).exclude(status=ChannelStatus.DISABLED).update(
            status=ChannelStatus.FAILING, status_reason=reason
        )
    elif state is State.BOUND:
        Channel.objects.filter(
            id=channel_uuid,
            status=ChannelStatus.FAILING,
            status_reason__startswith=BIND_REFUSED,
        ).update(status=ChannelStatus.ACTIVE, status_reason="")


async def _discard(events: list[Event]) -> None:
    return None


async def _ignore(state: State, reason: str) -> None:
    return None


class Sessions:
    """The process's binds, keyed by channel uuid, all on one event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sessions: dict[str, tuple[str, Session]] = {}
        # One thread for every database write of every bind: SQLite has one writer anyway.
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smpp-store")

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="smpp-binds", daemon=True)
                thread.start()
                self._loop = loop
            return self._loop

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the binds' loop from another thread and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def session(
        self,
        channel: ChannelConfig,
        config: SessionConfig,
        *,
        sink: Sink | None = None,
        on_state: StateListener | None = None,
    ) -> Session:
        """The channel's bind, started (or restarted if its settings changed)."""
        return self.call(self._ensure(channel.uuid, config, sink, on_state), 30)

    async def _ensure(
        self,
        uuid: str,
        config: SessionConfig,
        sink: Sink | None,
        on_state: StateListener | None,
    ) -> Session:
        fingerprint = config.fingerprint()
        current = self._sessions.get(uuid)
        if current is not None and current[0] == fingerprint:
            return current[1]
        if current is not None:
            await current[1].stop()
        loop = asyncio.get_running_loop()

        async def store(events: list[Event]) -> None:
            await loop.run_in_executor(self._db, _store, uuid, events)

        async def record(state: State, reason: str) -> None:
            await loop.run_in_executor(self._db, _record_state, uuid, state, reason)

        session = Session(config, sink or store, on_state or record)
        session.start()
        self._sessions[uuid] = (fingerprint, session)
        return session

    def send_many(
        self, channel: ChannelConfig, config: SessionConfig, messages: Sequence[OutgoingMessage]
    ) -> list[SendResult | None]:
        session = self.session(channel, config)
        # Generous: every message may wait its turn in the window, plus a bind.
        timeout = (
            config.connect_timeout
            + config.response_timeout * (len(messages) / config.window + 2)
            + 60
        )
        future = asyncio.run_coroutine_threadsafe(session.send_many(messages), self.loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            return [None for _ in messages]

    def recorded(self, uuid: str, provider_ids: Sequence[str]) -> None:
        """The dispatcher recorded these sends: the bind's held receipts for them may go."""
        current = self._sessions.get(uuid)
        if current is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(current[1].recorded, list(provider_ids))

    def probe(self, config: SessionConfig) -> str | None:
        """Bind once with these settings and unbind: why it failed, or None."""

        async def attempt() -> str | None:
            session = Session(config, _discard, _ignore)
            session.start()
            try:
                bound = await session.wait_bound(config.connect_timeout + 2)
                return None if bound else (session.reason or "no answer from the SMSC")
            finally:
                await session.stop()

        return self.call(attempt(), config.connect_timeout + 30)

    def bind_problem(self, channel: ChannelConfig, config: SessionConfig) -> str | None:
        session = self.session(channel, config)
        bound = self.call(session.wait_bound(config.connect_timeout + 2), None)
        return None if bound else (session.reason or "not bound to the SMSC yet")

    def stop(self, uuid: str) -> None:
        if self._loop is None:
            return
        self.call(self._stop(uuid), 30)

    async def _stop(self, uuid: str) -> None:
        current = self._sessions.pop(uuid, None)
        if current is not None:
            await current[1].stop()

    def stop_all(self) -> None:
        """Unbind everything and give back the database thread's connection."""
        if self._loop is None:
            return
        for uuid in list(self._sessions):
            self.stop(uuid)
        self._db.submit(_close_connections).result(30)

    def ensure_all(self) -> int:
        """Bind every SMPP channel in use, and let go of those no longer in use."""
        from django.db import close_old_connections

        from comptoir.channels.models import Channel, ChannelStatus
        from comptoir.providers.smpp.type import ConfigError, session_config

        close_old_connections()
        wanted: dict[str, tuple[ChannelConfig, SessionConfig]] = {}
        for channel in Channel.objects.filter(provider="smpp").exclude(
            status=ChannelStatus.DISABLED
        ):
            config = channel.as_config()
            try:
                wanted[config.uuid] = (config, session_config(config))
            except ConfigError as exc:
                log.warning("smpp channel %s cannot bind: %s", channel.id, exc)
        for uuid in set(self._sessions) - set(wanted):
            self.stop(uuid)
        for config, session_settings in wanted.values():
            self.session(config, session_settings)
        return len(wanted)

    def state(self, uuid: str) -> State | None:
        current = self._sessions.get(uuid)
        return None if current is None else current[1].state


@cache
def sessions() -> Sessions:
    return Sessions()
