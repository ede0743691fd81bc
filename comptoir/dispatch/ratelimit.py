"""Rate limits in segments per second, shared by every worker (GCRA with reservations).

Each limit (a channel, or a provider account several channels share) keeps one number,
`tat`: when everything granted so far is paid for at the limit's rate. A second's worth
may go at once; beyond that a caller *reserves* its place: `tat` moves on at once and the
caller is told how long to sleep before sending. Callers are thus served in the order
they asked, so channels sharing an account take turns instead of the busiest one
winning every race. A place further off than the caller can wait is not taken.

Where `tat` lives: in Redis when one is configured (Huey on Redis), else in the database
(`RateBucket`, one row per limit, updated under its row lock), so worker processes on
several machines, or several processes on one SQLite file, share one budget.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from django.conf import settings
from django.db import connection, transaction

from comptoir.dispatch.models import RateBucket


@dataclass(frozen=True, slots=True)
class Grant:
    taken: bool  # False: nothing was reserved, the place was further off than allowed
    wait: float  # seconds until the reserved units may go (or would have)


@dataclass(frozen=True, slots=True)
class Limit:
    key: str
    rate: float  # segments per second


class RateLimiter(Protocol):
    def reserve(self, key: str, rate: float, amount: int, max_wait: float) -> Grant:
        """Reserve `amount` units on `key` unless they could only go after `max_wait` s."""


def _burst(rate: float, increment: float) -> float:
    # A second's worth of sends may go at once; a message bigger than that still passes.
    return max(1.0, increment) if rate >= 1 else max(1.0 / rate, increment)


def gcra(tat: float, now: float, increment: float, burst: float, max_wait: float) -> Grant:
    """The decision, and the new `tat` when taken, for one reservation at `now`."""
    new_tat = max(tat, now) + increment
    wait = max(new_tat - now - burst, 0.0)
    return Grant(wait <= max_wait, wait)


_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local increment = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + increment
local wait = new_tat - now - burst
if wait < 0 then wait = 0 end
if wait > max_wait then return {0, tostring(wait)} end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {1, tostring(wait)}
"""


class RedisLimiter:
    """State in Redis, decided by a script on Redis's own clock: one round trip."""

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url)
        self._script = self._client.register_script(_GCRA)

    def reserve(self, key: str, rate: float, amount: int, max_wait: float) -> Grant:
        increment = amount / rate
        taken, wait = self._script(
            keys=[f"comptoir.rate.{key}"],
            args=[increment, _burst(rate, increment), max(max_wait, 0.0)],
        )
        return Grant(bool(taken), float(wait))


class DatabaseLimiter:
    """State in the database: a row lock serialises the workers of every machine.

    The clock is PostgreSQL's on PostgreSQL (workers on several machines need one
    clock); SQLite means one machine, whose clock every process shares.
    """

    def reserve(self, key: str, rate: float, amount: int, max_wait: float) -> Grant:
        increment = amount / rate
        with transaction.atomic():
            RateBucket.objects.bulk_create([RateBucket(key=key, tat=0.0)], ignore_conflicts=True)
            tat = RateBucket.objects.select_for_update().values_list("tat", flat=True).get(key=key)
            now = _database_now()  # read once the lock is ours: a stale clock would over-grant
            grant = gcra(tat, now, increment, _burst(rate, increment), max_wait)
            if grant.taken:
                RateBucket.objects.filter(key=key).update(tat=max(tat, now) + increment)
        return grant


def _database_now() -> float:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8")
            return float(cursor.fetchone()[0])
    return time.time()


@cache
def limiter() -> RateLimiter:
    url = settings.COMPTOIR_RATE_LIMIT_REDIS
    return RedisLimiter(url) if url else DatabaseLimiter()


def acquire(limits: Sequence[Limit], amount: int, *, deadline: float) -> float:
    """Wait until `amount` segments may go under every limit and return 0; if that would
    pass `deadline` (time.monotonic()), return at once the seconds still to wait.

    Limits are reserved one after the other and the longest wait is slept: a place taken
    on one limit and then not used (the next one was too far off) only costs that limit
    a little of its own throughput, never lets anything exceed it.
    """
    longest = 0.0
    for limit in limits:
        max_wait = max(deadline - time.monotonic(), 0.0)
        grant = limiter().reserve(limit.key, limit.rate, amount, max_wait)
        if not grant.taken:
            return grant.wait
        longest = max(longest, grant.wait)
    if longest > 0:
        time.sleep(longest)
    return 0.0
