"""Rate limits in segments per second: shared by worker processes, fair between channels."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from comptoir.channels.models import Channel
from comptoir.dispatch import ratelimit
from comptoir.dispatch.dispatcher import dispatch_channel
from comptoir.dispatch.models import SharedLimit
from comptoir.dispatch.ratelimit import DatabaseLimiter, Limit, RedisLimiter, acquire
from comptoir.messaging.models import Message, Status
from comptoir.messaging.outbox import SendRequest, messages_send

REDIS_URL = "redis://127.0.0.1:6379/15"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _redis_available():
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError as exc:  # pragma: no cover - the machine runs Redis
        pytest.fail(f"Redis is part of the test set-up ({REDIS_URL}): {exc}")


@pytest.fixture(params=["redis", "database"])
def limiter(request, db):
    return RedisLimiter(REDIS_URL) if request.param == "redis" else DatabaseLimiter()


@pytest.fixture
def limiter_setting(settings):
    """Which limiter `acquire` uses, reset around the test (it is cached per process)."""

    def use(url: str) -> None:
        settings.COMPTOIR_RATE_LIMIT_REDIS = url
        ratelimit.limiter.cache_clear()

    yield use
    ratelimit.limiter.cache_clear()


def key() -> str:
    return f"test-{uuid.uuid4()}"


# Slow rates, so the few milliseconds each call takes do not blur the figures.
def test_a_seconds_worth_goes_at_once_then_the_pace_holds(limiter):
    k = key()
    grants = [limiter.reserve(k, 4, 1, max_wait=0) for _ in range(4)]
    assert all(g.taken and g.wait == 0 for g in grants)
    refused = limiter.reserve(k, 4, 1, max_wait=0)
    assert not refused.taken
    assert 0.15 < refused.wait <= 0.25


def test_callers_who_can_wait_get_places_in_order(limiter):
    k = key()
    for _ in range(2):
        limiter.reserve(k, 2, 1, max_wait=0)
    waits = [limiter.reserve(k, 2, 1, max_wait=5).wait for _ in range(3)]
    assert waits == pytest.approx([0.5, 1.0, 1.5], abs=0.1)  # one place each, in turn
    too_far = limiter.reserve(k, 2, 1, max_wait=1.6)
    assert not too_far.taken and too_far.wait > 1.8
    assert limiter.reserve(k, 2, 1, max_wait=5).wait == pytest.approx(2.0, abs=0.1)  # took none


def test_segments_count_not_messages(limiter):
    k = key()
    assert limiter.reserve(k, 4, 3, max_wait=0).taken  # a 3-part SMS costs 3
    assert limiter.reserve(k, 4, 1, max_wait=0).taken
    assert limiter.reserve(k, 4, 3, max_wait=0).wait > 0.6


def test_a_message_bigger_than_a_second_still_passes(limiter):
    k = key()
    assert limiter.reserve(k, 2, 5, max_wait=0).taken  # 5 segments at 2/s: not stuck forever
    assert not limiter.reserve(k, 2, 1, max_wait=0).taken


def test_two_machines_share_one_budget_through_redis():
    k = key()
    first, second = RedisLimiter(REDIS_URL), RedisLimiter(REDIS_URL)
    grants = [lim.reserve(k, 6, 1, max_wait=0) for _ in range(6) for lim in (first, second)]
    assert [g.taken for g in grants].count(True) == 6


def test_acquire_waits_for_the_pace_and_respects_its_deadline(db, limiter_setting):
    limiter_setting("")
    limits = [Limit(key(), 20)]
    start = time.monotonic()
    for _ in range(25):
        assert acquire(limits, 1, deadline=time.monotonic() + 5) == 0
    elapsed = time.monotonic() - start
    assert 0.2 < elapsed < 1.0  # 20 at once, then 5 more at 20/s
    assert acquire(limits, 100, deadline=time.monotonic() + 0.1) > 0.5  # says how long
    assert acquire([], 1000, deadline=0) == 0  # no limit set


def test_acquire_honours_the_strictest_of_several_limits(db, limiter_setting):
    limiter_setting(REDIS_URL)
    channel, account = Limit(key(), 100), Limit(key(), 10)
    start = time.monotonic()
    for _ in range(15):
        assert acquire([channel, account], 1, deadline=time.monotonic() + 5) == 0
    assert 0.4 < time.monotonic() - start < 1.0  # the account's 10/s, not the channel's


# Run in each worker process: send what the channel has queued, then report how many.
WORKER = """
import sys, time
import django
django.setup()
from comptoir.dispatch.dispatcher import dispatch_channel
from comptoir.messaging.models import Message
channel_id = sys.argv[1]
print("ready", flush=True)
sys.stdin.readline()
sent, deadline = 0, time.monotonic() + 60
queued = Message.objects.filter(channel_id=channel_id, status="queued")
while queued.exists() and time.monotonic() < deadline:
    report = dispatch_channel(channel_id, budget=2.0)
    sent += report.sent
    time.sleep(min(report.retry_in, 0.2) if report.retry_in or report.sent else 0.05)
print(sent, flush=True)
"""


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def _worker_env(backend: str, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=_database_url(), PYTHONPATH=str(ROOT))
    env["DJANGO_SETTINGS_MODULE"] = "comptoir.config.test_settings"
    env.pop("COMPTOIR_RATE_LIMIT_REDIS", None)
    if backend == "redis":
        env["COMPTOIR_RATE_LIMIT_REDIS"] = REDIS_URL
    else:
        # The limiter follows the queue: a worker on a SQLite queue keeps it in the database.
        env["HUEY_URL"] = f"sqlite:///{tmp_path / 'huey.sqlite3'}"
    return env


def queue_held(workspace, count: int, purpose: str = "conversational") -> list[Message]:
    """Queue messages that nobody sends until `release` (in transaction=True tests the
    outbox's on-commit wake-up would otherwise send them inline, Huey being immediate)."""
    later = timezone.now() + dt.timedelta(minutes=5)
    requests = [
        SendRequest(f"+336{n:08d}", "Bonjour", purpose, send_at=later)
        for n in range(10_000_000, 10_000_000 + count)
    ]
    return [r.message for r in messages_send(workspace=workspace, requests=requests)]


def release(messages: list[Message]) -> None:
    Message.objects.filter(id__in=[m.id for m in messages]).update(send_at=timezone.now())


def measured_rate(sent_at: list[dt.datetime], rate: float) -> float:
    """Segments per second after the first second's burst, from the recorded sent_at."""
    ordered = sorted(sent_at)
    return (len(ordered) - rate) / (ordered[-1] - ordered[0]).total_seconds()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", ["redis", "database"])
def test_two_worker_processes_together_keep_the_channels_rate(
    workspace, channel, backend, tmp_path
):
    rate, count = 50, 400
    channel.rate_limit = rate
    channel.config["receipt_delay"] = 600
    channel.save()
    messages = queue_held(workspace, count)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(channel.id)],
            env=_worker_env(backend, tmp_path),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready"
        release(messages)
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        counts = [int(worker.communicate(timeout=60)[0].strip()) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    assert sum(counts) == count
    assert min(counts) > count * 0.25, counts  # both processes really sent
    sent = Message.objects.filter(channel=channel, status=Status.SENT)
    assert sent.count() == count
    measured = measured_rate(list(sent.values_list("sent_at", flat=True)), rate)
    print(f"{backend}: two processes sent {counts} at {measured:.2f} segments/s (limit {rate})")
    assert rate * 0.95 <= measured <= rate * 1.05


@pytest.mark.django_db(transaction=True)
def test_channels_sharing_an_account_take_turns(workspace, other_workspace, limiter_setting):
    """A big campaign on one shop's channel does not starve another shop on the account."""
    limiter_setting(django_settings.COMPTOIR_RATE_LIMIT_REDIS)
    rate = 40
    account = SharedLimit.objects.create(key=f"acct-{uuid.uuid4().hex[:8]}", rate_limit=rate)
    channels = []
    for ws in (workspace, other_workspace):
        ch = Channel.objects.get(workspace=ws, provider="sandbox")
        ch.config.update(shared_limit_key=account.key, receipt_delay=600)
        ch.save()
        channels.append(ch)
    campaign = queue_held(workspace, 400)
    few = queue_held(other_workspace, 20)
    errors: list[Exception] = []

    def run(channel_id: uuid.UUID, budget: float) -> None:
        try:
            dispatch_channel(channel_id, budget=budget)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    release(campaign)
    big = threading.Thread(target=run, args=(channels[0].id, 6.0))
    big.start()
    time.sleep(1.5)  # the campaign has used the burst and is at the account's pace
    release(few)
    asked = timezone.now()
    small = threading.Thread(target=run, args=(channels[1].id, 6.0))
    small.start()
    small.join()
    big.join()
    assert not errors
    few_sent = sorted(
        Message.objects.filter(id__in=[m.id for m in few]).values_list("sent_at", flat=True)
    )
    assert len(few_sent) == 20
    took = (few_sent[-1] - asked).total_seconds()
    # Alone on the account 20 would take 0.5 s; sharing it turn about, about 1 s. Waiting
    # behind the campaign would take its remaining 7 s or more.
    assert took < 2.0, took
    window = Message.objects.filter(
        channel=channels[0], sent_at__gte=asked, sent_at__lte=few_sent[-1]
    ).count()
    assert window >= 10, window  # the campaign kept going meanwhile: turns, not a pause
    everything = list(
        Message.objects.filter(status=Status.SENT, channel__in=channels).values_list(
            "sent_at", flat=True
        )
    )
    assert measured_rate(everything, rate) <= rate * 1.05  # together within the account's rate


def test_a_channel_naming_an_unknown_shared_limit_still_sends_and_says_why(
    workspace, channel, caplog
):
    channel.config["shared_limit_key"] = "no-such-account"
    channel.save()
    messages_send(workspace=workspace, requests=[SendRequest("+33612345678", "Bonjour")])
    assert dispatch_channel(channel.id).sent == 1
    assert "names shared limit 'no-such-account', which does not exist" in caplog.text
