"""Priority classes: a service message never waits behind a campaign on its channel."""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo

import pytest
import time_machine
from huey.contrib.djhuey import HUEY

from comptoir.core.embedded import start_embedded_worker
from comptoir.dispatch.dispatcher import dispatch_channel
from comptoir.messaging.models import PRIORITY, Message, Purpose, Status
from comptoir.messaging.outbox import SendRequest, messages_send
from tests.conftest import grant_marketing

# A Tuesday morning in Paris: marketing may go (legal sending hours, no holiday).
OPEN_HOURS = dt.datetime(2026, 11, 24, 10, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))


def campaign(workspace, count: int) -> list[Message]:
    phones = [f"+336{n:08d}" for n in range(20_000_000, 20_000_000 + count)]
    grant_marketing(workspace, phones)
    requests = [SendRequest(p, "Soldes -20 %", "marketing") for p in phones]
    return [r.message for r in messages_send(workspace=workspace, requests=requests)]


def service_messages(workspace, count: int) -> list[Message]:
    requests = [
        SendRequest(f"+336{n:08d}", f"Votre commande {n} est prête", "transactional")
        for n in range(30_000_000, 30_000_000 + count)
    ]
    return [r.message for r in messages_send(workspace=workspace, requests=requests)]


def test_the_outbox_sets_the_priority_from_the_purpose(workspace):
    with time_machine.travel(OPEN_HOURS):
        [promo] = campaign(workspace, 1)
        [service] = service_messages(workspace, 1)
    assert (promo.priority, service.priority) == (2, 0)
    assert PRIORITY[Purpose.TRANSACTIONAL] < PRIORITY[Purpose.CONVERSATIONAL]
    assert PRIORITY[Purpose.CONVERSATIONAL] < PRIORITY[Purpose.MARKETING]


def test_service_messages_go_in_the_next_batch_after_a_big_campaign(workspace, channel):
    channel.rate_limit = 100
    channel.config["receipt_delay"] = 600
    channel.save()
    with time_machine.travel(OPEN_HOURS, tick=True):
        promos = campaign(workspace, 1000)
        first = dispatch_channel(channel.id, budget=0.0001)  # the campaign's first second
        assert first.sent >= 100
        service = service_messages(workspace, 5)
        # The channel's pace allows the next batch in a tenth of a second.
        after = dispatch_channel(channel.id, batch=20, budget=0.5)
    assert after.sent >= 20
    service_sent = list(
        Message.objects.filter(id__in=[m.id for m in service], status=Status.SENT).values_list(
            "sent_at", flat=True
        )
    )
    assert len(service_sent) == 5
    promos_sent = Message.objects.filter(id__in=[m.id for m in promos], status=Status.SENT)
    second_run = sorted(promos_sent.values_list("sent_at", flat=True))[first.sent :]
    assert max(service_sent) <= min(second_run)  # first of the next batch
    assert promos_sent.count() == first.sent + after.sent - 5 < 300


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_service_messages_overtake_a_running_campaign_in_a_real_worker(workspace, channel):
    """1,000 campaign messages at 100/s; 5 order notices queued a second in go out at once."""
    channel.rate_limit = 100
    channel.config["receipt_delay"] = 600
    channel.save()
    HUEY.immediate = False
    HUEY.flush()
    consumer = start_embedded_worker(workers=2)
    try:
        with time_machine.travel(OPEN_HOURS, tick=True):
            promos = campaign(workspace, 1000)
            started = Message.objects.filter(id__in=[m.id for m in promos], status=Status.SENT)
            deadline = time.monotonic() + 10
            while started.count() < 100 and time.monotonic() < deadline:
                time.sleep(0.05)  # until the campaign has used its first second's burst
            assert 100 <= started.count() < 500  # the campaign is going, far from done
            service = service_messages(workspace, 5)
            asked = service[0].created_at
            sent = Message.objects.filter(id__in=[m.id for m in service], status=Status.SENT)
            deadline = time.monotonic() + 10
            while sent.count() < 5 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sent.count() == 5
            took = max((m.sent_at - asked).total_seconds() for m in sent)
            remaining = Message.objects.filter(
                id__in=[m.id for m in promos], status=Status.QUEUED
            ).count()
    finally:
        consumer.stop(graceful=True)
        HUEY.flush()
        HUEY.immediate = True
    print(f"service messages out {took:.2f} s after being queued; campaign left: {remaining}")
    assert took < 1.0, took
    assert remaining > 300  # they overtook the campaign rather than waiting for its end
