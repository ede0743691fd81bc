"""Per-channel rate limits in segments per second, in-process and shared through Redis."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from comptoir.dispatch.ratelimit import LocalLimiter, RedisLimiter, acquire

REDIS_URL = "redis://127.0.0.1:6379/15"


def limiters():
    yield pytest.param(LocalLimiter(), id="local")
    yield pytest.param(RedisLimiter(REDIS_URL), id="redis")


@pytest.fixture(autouse=True)
def _redis_available():
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError as exc:  # pragma: no cover - the machine runs Redis
        pytest.fail(f"Redis is part of the test set-up ({REDIS_URL}): {exc}")


@pytest.mark.parametrize("limiter", list(limiters()))
def test_a_seconds_worth_goes_at_once_then_the_pace_holds(limiter):
    key = f"test-{uuid.uuid4()}"
    granted = [limiter.reserve(key, 10, 1) for _ in range(10)]
    assert granted == [0.0] * 10
    wait = limiter.reserve(key, 10, 1)
    assert 0.05 < wait <= 0.11


@pytest.mark.parametrize("limiter", list(limiters()))
def test_segments_count_not_messages(limiter):
    key = f"test-{uuid.uuid4()}"
    assert limiter.reserve(key, 10, 3) == 0  # a 3-part SMS costs 3
    assert limiter.reserve(key, 10, 7) == 0
    assert limiter.reserve(key, 10, 3) > 0.25


@pytest.mark.parametrize("limiter", list(limiters()))
def test_a_message_bigger_than_a_second_still_passes(limiter):
    key = f"test-{uuid.uuid4()}"
    assert limiter.reserve(key, 2, 5) == 0  # 5 segments on a 2/s channel: not stuck forever
    assert limiter.reserve(key, 2, 1) > 0


def test_two_machines_share_one_budget_through_redis():
    key = f"test-{uuid.uuid4()}"
    first, second = RedisLimiter(REDIS_URL), RedisLimiter(REDIS_URL)
    grants = [limiter.reserve(key, 6, 1) for _ in range(6) for limiter in (first, second)]
    assert grants.count(0.0) == 6


def test_acquire_waits_for_the_pace_and_respects_its_deadline(settings):
    settings.COMPTOIR_RATE_LIMIT_REDIS = ""
    key = f"test-{uuid.uuid4()}"
    start = time.monotonic()
    for _ in range(25):
        assert acquire(key, 20, 1, deadline=time.monotonic() + 5) == 0
    elapsed = time.monotonic() - start
    assert 0.2 < elapsed < 1.0  # 20 at once, then 5 more at 20/s
    assert acquire(key, 20, 100, deadline=time.monotonic() + 0.1) > 0.5  # says how long
    assert acquire(key, None, 1000, deadline=0) == 0  # no limit set
