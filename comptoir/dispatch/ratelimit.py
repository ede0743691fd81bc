"""Per-channel rate limits in segments per second (GCRA, a token bucket with no timer).

With Redis configured the state lives there, so every worker machine shares one budget;
otherwise it lives in the process (the embedded set-up has one process).
"""

from __future__ import annotations

import threading
import time
from functools import cache
from typing import Protocol

from django.conf import settings


class RateLimiter(Protocol):
    def reserve(self, key: str, rate: float, amount: int) -> float:
        """Take `amount` units if the rate allows now and return 0, else the seconds to wait."""


def _burst(rate: float, increment: float) -> float:
    # A second's worth of sends may go at once; a message bigger than that still passes.
    return max(1.0, increment) if rate >= 1 else max(1.0 / rate, increment)


class LocalLimiter:
    def __init__(self) -> None:
        self._tat: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, rate: float, amount: int) -> float:
        increment = amount / rate
        with self._lock:
            now = time.monotonic()
            tat = max(self._tat.get(key, now), now)
            new_tat = tat + increment
            wait = new_tat - now - _burst(rate, increment)
            if wait > 0:
                return wait
            self._tat[key] = new_tat
            return 0.0


_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local increment = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + increment
local wait = new_tat - now - burst
if wait > 0 then return tostring(wait) end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return '0'
"""


class RedisLimiter:
    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url)
        self._script = self._client.register_script(_GCRA)

    def reserve(self, key: str, rate: float, amount: int) -> float:
        increment = amount / rate
        result = self._script(
            keys=[f"comptoir.rate.{key}"], args=[increment, _burst(rate, increment)]
        )
        return float(result)


@cache
def limiter() -> RateLimiter:
    url = settings.COMPTOIR_RATE_LIMIT_REDIS
    return RedisLimiter(url) if url else LocalLimiter()


def acquire(key: str, rate: float | None, amount: int, *, deadline: float) -> float:
    """Wait until `amount` segments may go on `key` and return 0; if that would pass
    `deadline`, return at once the seconds still to wait."""
    if not rate:
        return 0.0
    while True:
        wait = limiter().reserve(key, rate, amount)
        if wait <= 0:
            return 0.0
        if time.monotonic() + wait > deadline:
            return wait
        time.sleep(wait)
