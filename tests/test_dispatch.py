"""The dispatcher: claims, priority, leases, retries, compliance at send time, no duplicates."""

from __future__ import annotations

import datetime as dt
import threading
from functools import partial

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from comptoir.contacts.models import Contact
from comptoir.dispatch.dispatcher import MAX_ATTEMPTS, dispatch_channel, retry_delay
from comptoir.messaging.models import Message, Status
from comptoir.messaging.outbox import SendRequest, message_send, messages_send
from comptoir.sandbox.carrier import deliver_receipts
from comptoir.sandbox.models import CarrierMessage
from tests.conftest import grant_marketing


def queue(workspace, count=1, purpose="transactional", **kwargs):
    phones = [f"+3361234{i:04d}" for i in range(count)]
    if purpose == "marketing":
        grant_marketing(workspace, phones)
    requests = [SendRequest(p, f"Message {i}", purpose, **kwargs) for i, p in enumerate(phones)]
    return [r.message for r in messages_send(workspace=workspace, requests=requests)]


def statuses(messages):
    return [Message.objects.get(id=m.id).status for m in messages]


def test_a_due_message_is_sent_and_its_receipt_delivers_it(workspace, channel):
    [message] = queue(workspace)
    report = dispatch_channel(channel.id)
    assert report.sent == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.provider_id.startswith("SB")
    assert message.attempts == 1
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=5)):
        sent, _ = deliver_receipts()
    assert sent == 1
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert message.sending_at <= message.sent_at <= message.delivered_at
    history = list(message.transitions.order_by("at", "id").values_list("status", flat=True))
    assert history == ["queued", "sending", "sent", "delivered"]


def test_transactional_goes_before_marketing_queued_earlier(workspace, channel):
    marketing = queue(workspace, 3, purpose="marketing")
    transactional = queue(workspace, 2, purpose="transactional")
    dispatch_channel(channel.id, batch=2, budget=0.0001)  # one batch only
    assert statuses(transactional) == [Status.SENT, Status.SENT]
    assert statuses(marketing) == [Status.QUEUED] * 3


def test_a_message_is_not_sent_before_its_time(workspace, channel):
    later = timezone.now() + dt.timedelta(hours=2)
    queue(workspace, send_at=later)
    report = dispatch_channel(channel.id)
    assert report.sent == 0
    assert report.next_due == later
    with time_machine.travel(later + dt.timedelta(seconds=1)):
        assert dispatch_channel(channel.id).sent == 1


def test_a_claim_held_by_a_dead_worker_expires(workspace, channel, settings):
    [message] = queue(workspace)
    Message.objects.filter(id=message.id).update(
        claim_token="00000000-0000-0000-0000-000000000001",
        claimed_until=timezone.now() + dt.timedelta(seconds=settings.COMPTOIR_CLAIM_SECONDS),
    )
    assert dispatch_channel(channel.id).sent == 0
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61)):
        assert dispatch_channel(channel.id).sent == 1


def test_throttled_sends_are_retried_later_never_dropped(workspace, channel):
    channel.config["throttle_per_second"] = 2
    channel.save()
    messages = queue(workspace, 5)
    report = dispatch_channel(channel.id)
    assert report.sent == 2
    assert report.retried == 3
    waiting = Message.objects.filter(id__in=[m.id for m in messages], status=Status.QUEUED)
    assert waiting.count() == 3
    for message in waiting:
        assert message.error_code == "throttled"
        assert message.send_at > timezone.now()
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=2)):
        dispatch_channel(channel.id)
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=4)):
        dispatch_channel(channel.id)
    assert set(statuses(messages)) == {Status.SENT}
    assert CarrierMessage.objects.filter(channel_uuid=channel.id).count() == 5


def test_retry_delay_backs_off_and_is_capped():
    delays = [retry_delay(n) for n in range(1, 12)]
    assert delays[:4] == [5, 10, 20, 40]
    assert delays == sorted(delays)
    assert max(delays) == 1800


def test_throttling_never_uses_up_attempts(workspace, channel):
    channel.config["throttle_per_second"] = 1
    channel.save()
    _, second = queue(workspace, 2)
    Message.objects.filter(id=second.id).update(attempts=MAX_ATTEMPTS - 1, priority=2)
    dispatch_channel(channel.id)
    second.refresh_from_db()
    assert second.status == Status.QUEUED
    assert second.error_code == "throttled"
    assert second.attempts == MAX_ATTEMPTS - 1


def test_the_network_failing_a_message_is_recorded_with_its_reason(workspace, channel):
    channel.config["fail_rate"] = 1.0
    channel.save()
    [message] = queue(workspace)
    dispatch_channel(channel.id)
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=5)):
        deliver_receipts()
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.error_code == "unreachable"
    assert "could not be reached" in message.error_reason


def test_compliance_runs_again_just_before_sending(workspace, channel):
    [message] = queue(workspace)
    # Between queueing and sending we learn the number is a landline.
    Contact.objects.filter(id=message.contact_id).update(number_type="fixed_line")
    report = dispatch_channel(channel.id)
    assert report.blocked == 1
    message.refresh_from_db()
    assert message.status == Status.BLOCKED
    assert message.error_code == "not_mobile"
    assert not CarrierMessage.objects.filter(reference=str(message.id)).exists()


def test_receipts_for_unknown_provider_ids_create_nothing(workspace, channel):
    from comptoir.messaging.inbound import events_store
    from comptoir.providers.base import DeliveryStatus, StatusUpdate

    before = Message.objects.count()
    report = events_store(
        channel=channel, events=[StatusUpdate("SB-nobody", DeliveryStatus.DELIVERED)]
    )
    assert report.unmatched == 1
    assert Message.objects.count() == before


def test_a_receipt_delivered_twice_records_one_transition(workspace, channel):
    from comptoir.messaging.inbound import events_store
    from comptoir.providers.base import DeliveryStatus, StatusUpdate

    [message] = queue(workspace)
    dispatch_channel(channel.id)
    message.refresh_from_db()
    receipt = StatusUpdate(message.provider_id, DeliveryStatus.DELIVERED)
    events_store(channel=channel, events=[receipt])
    events_store(channel=channel, events=[receipt])
    assert message.transitions.filter(status=Status.DELIVERED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_never_send_a_message_twice(workspace, channel):
    messages = queue(workspace, 300)
    errors = []

    def run():
        try:
            dispatch_channel(channel.id, batch=25)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert set(statuses(messages)) == {Status.SENT}
    carrier = CarrierMessage.objects.filter(channel_uuid=channel.id)
    assert carrier.count() == 300
    assert carrier.values("reference").distinct().count() == 300
    sending = Message.objects.filter(id__in=[m.id for m in messages]).values_list(
        "attempts", flat=True
    )
    assert set(sending) == {1}


def test_idempotency_key_gives_one_message_and_one_send(workspace, channel):
    first = message_send(
        workspace=workspace, to="0612345678", body="Code 1234", idempotency_key="k1"
    )
    again = message_send(
        workspace=workspace, to="06 12 34 56 78", body="Code 1234", idempotency_key="k1"
    )
    assert again.message.id == first.message.id
    assert not again.created
    dispatch_channel(channel.id)
    assert CarrierMessage.objects.filter(channel_uuid=channel.id).count() == 1


def test_a_backlog_gets_one_helping_run_and_every_message_goes_once(
    workspace, channel, monkeypatch
):
    """A run finding a full batch starts one more run beside it (another worker
    process's, with a bind of its own); the helping run starts none, and nothing goes
    twice."""
    from comptoir.dispatch import tasks

    messages = queue(workspace, 450)  # queued: the wake-up waits for a commit, never here
    runs = []
    real, running_here = tasks.dispatch_channel, tasks.running_here

    def spy(channel_id, **kwargs):
        runs.append(kwargs["helper"] is not None)
        if kwargs["helper"] is not None:
            kwargs["helper"] = partial(elsewhere, kwargs["helper"])
        return real(channel_id, batch=200, **kwargs)

    def elsewhere(helper):
        """Taken by another process's worker (which sends nothing on this channel), in
        the middle of the woken run here."""
        with monkeypatch.context() as there:
            there.setattr(tasks, "running_here", lambda channel_id: False)
            helper()

    monkeypatch.setattr(tasks, "dispatch_channel", spy)
    tasks.dispatch_channel_task.call_local(str(channel.id))
    assert runs == [True, False]  # the woken run, then the one helping it
    assert not running_here(str(channel.id))
    assert set(statuses(messages)) == {Status.SENT}
    carrier = CarrierMessage.objects.filter(channel_uuid=channel.id)
    assert carrier.count() == carrier.values("reference").distinct().count() == 450


def test_a_helping_run_taken_where_the_channel_is_being_sent_goes_back_then_is_dropped(
    workspace, channel, monkeypatch
):
    """In the process already sending the channel a second run would share its
    interpreter lock: the helping run goes back to the queue for another process, a few
    times, and is dropped if none takes it; the woken run sends everything, once."""
    from comptoir.dispatch import tasks

    messages = queue(workspace, 450)
    runs, queued_hops = [], []
    real, task = tasks.dispatch_channel, tasks.dispatch_channel_task

    def spy(channel_id, **kwargs):
        runs.append(kwargs["helper"] is not None)
        return real(channel_id, batch=200, **kwargs)

    def queued(channel_id, helping=False, hops=0):
        queued_hops.append(hops)
        return task.call_local(channel_id, helping=helping, hops=hops)  # the queue, at once

    monkeypatch.setattr(tasks, "dispatch_channel", spy)
    monkeypatch.setattr(tasks, "dispatch_channel_task", queued)
    task.call_local(str(channel.id))
    assert runs == [True]  # the helping run never ran here
    assert queued_hops == [0, *range(1, tasks.HELPER_HOPS + 1)]
    assert not tasks.running_here(str(channel.id))
    assert set(statuses(messages)) == {Status.SENT}
    assert CarrierMessage.objects.filter(channel_uuid=channel.id).count() == 450


def test_a_rate_limited_channel_gets_no_helping_run(workspace, channel, monkeypatch):
    from comptoir.dispatch import tasks

    channel.rate_limit = 1000
    channel.save()
    queue(workspace, 5)
    helped = []
    real = tasks.dispatch_channel

    def spy(channel_id, **kwargs):
        helper = kwargs["helper"]
        kwargs["helper"] = None if helper is None else (lambda: helped.append(True))
        return real(channel_id, batch=2, budget=0.0001, **kwargs)

    monkeypatch.setattr(tasks, "dispatch_channel", spy)
    tasks.dispatch_channel_task.call_local(str(channel.id))
    assert helped == []
