"""What happens when a worker dies: nothing lost, nothing sent twice."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine
from django.utils import timezone

from comptoir.channels.models import ChannelStatus
from comptoir.channels.services import channel_create
from comptoir.dispatch.dispatcher import MAX_ATTEMPTS, dispatch_channel
from comptoir.dispatch.reaper import reap
from comptoir.messaging.inbound import events_store
from comptoir.messaging.models import Message, PendingReceipt, Status
from comptoir.messaging.outbox import message_send
from comptoir.providers.base import DeliveryStatus, StatusUpdate
from comptoir.providers.registry import provider_types
from comptoir.sandbox.models import CarrierMessage
from tests import fake_provider


@pytest.fixture
def scripted(workspace, settings, channel):
    settings.COMPTOIR_PROVIDERS = [
        "comptoir.providers.sandbox.SandboxType",
        "tests.fake_provider.ScriptedType",
    ]
    provider_types.cache_clear()
    fake_provider.SENT.clear()
    channel.is_default = False
    channel.save()
    scripted = channel_create(
        workspace=workspace, provider="scripted", name="Scripted", address="+33600000000"
    )
    scripted.is_default = True
    scripted.save()
    yield scripted
    provider_types.cache_clear()


def send(workspace, body="Bonjour"):
    return message_send(workspace=workspace, to="0612345678", body=body).message


def stale(message, seconds=3600):
    Message.objects.filter(id=message.id).update(
        status=Status.SENDING, sending_at=timezone.now() - dt.timedelta(seconds=seconds)
    )


def test_a_stale_send_on_a_deduplicating_provider_is_requeued_and_not_duplicated(
    workspace, channel
):
    message = send(workspace)
    dispatch_channel(channel.id)
    message.refresh_from_db()
    first_id = message.provider_id
    # The worker died after the carrier accepted the message but before recording it.
    Message.objects.filter(id=message.id).update(status=Status.SENDING, provider_id="")
    stale(message)
    report = reap()  # requeues, and wakes the dispatcher (inline in tests)
    assert report.requeued == 1
    assert message.transitions.filter(status=Status.QUEUED, code="requeued_after_crash").exists()
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.provider_id == first_id  # the carrier recognised the reference
    assert CarrierMessage.objects.filter(reference=str(message.id)).count() == 1


def test_a_stale_send_on_another_provider_becomes_unknown_not_resent(workspace, scripted):
    message = send(workspace)
    stale(message)
    report = reap()
    assert report.unknown == 1
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert message.error_code == "send_unconfirmed"
    assert "not sent again" in message.error_reason
    dispatch_channel(scripted.id)
    assert fake_provider.SENT == []


def test_a_late_receipt_settles_an_unknown_message(workspace, scripted):
    message = send(workspace)
    Message.objects.filter(id=message.id).update(status=Status.UNKNOWN, provider_id="SC-late")
    events_store(channel=scripted, events=[StatusUpdate("SC-late", DeliveryStatus.DELIVERED)])
    message.refresh_from_db()
    assert message.status == Status.DELIVERED


def test_an_adapter_that_raises_leaves_the_message_for_the_reaper(workspace, scripted):
    message = send(workspace, "boom")
    dispatch_channel(scripted.id)
    message.refresh_from_db()
    assert message.status == Status.SENDING
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1)):
        reap()
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN


def test_a_lost_wake_up_is_found_by_the_reaper(workspace, channel):
    message = send(workspace)  # committed without running on-commit work: nobody woke
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=1)):
        report = reap()
    assert report.woken == 1
    message.refresh_from_db()
    assert message.status == Status.SENT  # Huey runs inline in tests


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("reject", Status.FAILED, "21211"),
        ("stop", Status.FAILED, "21610"),
        ("retry", Status.QUEUED, "timeout"),
        ("config", Status.QUEUED, "20003"),
    ],
)
def test_send_outcomes(workspace, scripted, body, status, code):
    message = send(workspace, body)
    dispatch_channel(scripted.id)
    message.refresh_from_db()
    assert (message.status, message.error_code) == (status, code)
    assert message.error_reason


def test_connection_failures_give_up_after_the_last_attempt(workspace, scripted):
    message = send(workspace, "retry")
    Message.objects.filter(id=message.id).update(attempts=MAX_ATTEMPTS - 1)
    dispatch_channel(scripted.id)
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.attempts == MAX_ATTEMPTS


def test_a_config_error_marks_the_channel_failing_and_the_message_waits(workspace, scripted):
    message = send(workspace, "config")
    dispatch_channel(scripted.id)
    scripted.refresh_from_db()
    assert scripted.status == ChannelStatus.FAILING
    assert scripted.status_reason == "bad credentials"
    message.refresh_from_db()
    assert message.attempts == 0  # not the message's fault
    assert message.status == Status.QUEUED


def test_a_receipt_that_beats_the_send_answer_is_kept_and_applied(workspace, channel):
    message = send(workspace)
    dispatch_channel(channel.id)
    message.refresh_from_db()
    pid = message.provider_id
    # Replay the race: the receipt arrives while the message still has no provider id.
    Message.objects.filter(id=message.id).update(status=Status.SENDING, provider_id="")
    events_store(channel=channel, events=[StatusUpdate(pid, DeliveryStatus.DELIVERED)])
    assert PendingReceipt.objects.filter(provider_id=pid).exists()
    Message.objects.filter(id=message.id).update(status=Status.SENT, provider_id=pid)
    assert reap().receipts == 1
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert not PendingReceipt.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_receipt_at_delay_zero_is_not_lost(workspace, channel):
    channel.config["receipt_delay"] = 0
    channel.save()
    message = send(workspace)
    # The carrier calls back inside the adapter call, before the dispatcher records the id.
    dispatch_channel(channel.id)
    message.refresh_from_db()
    assert message.status == Status.DELIVERED


def test_a_late_answer_from_a_send_the_reaper_gave_up_on_still_settles_it(workspace, scripted):
    """The provider answers after the reaper marked the message unknown: keep the answer."""
    from comptoir.dispatch import dispatcher

    message = send(workspace)
    original = dispatcher._record

    def slow_provider(channel, rows, results, token, report):
        stale(message)  # the provider took longer than the stale limit…
        reap()  # …so the reaper marked it unknown meanwhile
        message.refresh_from_db()
        assert message.status == Status.UNKNOWN
        original(channel, rows, results, token, report)

    dispatcher._record = slow_provider
    try:
        dispatch_channel(scripted.id)
    finally:
        dispatcher._record = original
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.provider_id.startswith("SC")
    history = list(message.transitions.order_by("at", "id").values_list("status", flat=True))
    assert history[-2:] == ["unknown", "sent"]


def test_a_late_answer_for_a_requeued_attempt_does_not_overwrite_the_new_one(workspace, channel):
    """Sandbox (idempotent): the reaper re-queues; the old attempt's answer is ignored."""
    from comptoir.dispatch import dispatcher
    from comptoir.providers.base import Outcome, SendResult

    message = send(workspace)
    original = dispatcher._record

    def late_rejection(channel_, rows, results, token, report):
        dispatcher._record = original  # only the first attempt is slow
        stale(message)
        reap()  # re-queued…
        dispatcher.dispatch_channel(channel.id)  # …and sent again under a new claim
        message.refresh_from_db()
        assert message.status == Status.SENT
        rejected = [SendResult(Outcome.REJECTED, error_code="x", reason="late") for _ in rows]
        original(channel_, rows, rejected, token, report)

    dispatcher._record = late_rejection
    try:
        dispatch_channel(channel.id)
    finally:
        dispatcher._record = original
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_a_late_sent_answer_leaves_alone_a_row_another_run_took_back(workspace, channel):
    """A batch the provider took whole is marked `sent` by one UPDATE guarded by the
    run's claim: a row the reaper re-queued and another run is now sending keeps that
    run's claim, and only the rows still held count as sent."""
    from comptoir.dispatch import dispatcher
    from comptoir.providers.base import SendResult

    message, other = send(workspace), message_send(workspace=workspace, to="0612345679", body="B")
    original, reports, theirs = dispatcher._record, [], uuid.uuid4()

    def late_sent(channel_, rows, results, token, report):
        dispatcher._record = original  # only this run is slow
        stale(message)
        reap()  # re-queued…
        # …and claimed by another run, which is sending it right now.
        Message.objects.filter(id=message.id).update(status=Status.SENDING, claim_token=theirs)
        late = [SendResult.sent(f"LATE{i}") for i, _ in enumerate(rows)]
        before = message.transitions.count()
        original(channel_, rows, late, token, report)
        reports.append((report.sent, message.transitions.count() - before))

    dispatcher._record = late_sent
    try:
        dispatch_channel(channel.id)
    finally:
        dispatcher._record = original
    message.refresh_from_db()
    assert (message.status, message.claim_token) == (Status.SENDING, theirs)
    assert not message.provider_id.startswith("LATE")
    assert Message.objects.get(id=other.message.id).provider_id.startswith("LATE")
    assert reports == [(1, 0)]  # one sent (the other), no transition for this one


def test_throttling_lets_go_of_the_rest_of_the_claim(workspace, scripted):
    from comptoir.providers.base import Outcome, SendResult
    from tests.fake_provider import ScriptedType

    for i in range(4):
        message_send(workspace=workspace, to=f"061234567{i}", body=f"Bonjour {i}")
    original = ScriptedType.send

    def throttled(self, channel, message):
        return SendResult(Outcome.THROTTLED, error_code="429", reason="slow down", retry_after=2)

    ScriptedType.send = throttled
    try:
        report = dispatch_channel(scripted.id)
    finally:
        ScriptedType.send = original
    assert report.retry_in == 2
    leased = Message.objects.filter(status=Status.QUEUED, claimed_until__isnull=False)
    assert not leased.exists()
