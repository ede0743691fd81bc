"""Failover: a failing channel's messages go through its backup, once, and come back."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from comptoir.channels.models import Channel, ChannelStatus
from comptoir.channels.services import channel_create
from comptoir.core.embedded import start_embedded_worker
from comptoir.dispatch.dispatcher import dispatch_channel
from comptoir.dispatch.failover import MOVED
from comptoir.dispatch.reaper import REQUEUED_AFTER_CRASH, reap
from comptoir.messaging.models import Message, Status
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.providers.base import ChannelConfig, Outcome, OutgoingMessage, SendResult
from comptoir.providers.registry import provider_types
from comptoir.providers.sandbox.type import SandboxType
from comptoir.sandbox.models import CarrierMessage

OUTAGE = threading.Event()
PRIMARY_CALLS: list[str] = []  # references handed to the primary's provider, in order


class FlakySandbox(SandboxType):
    """The sandbox network behind a link that can be cut: while OUTAGE is set every send
    fails to connect, as a provider's outage looks from here."""

    code = "flaky"
    name = "Sandbox behind a flaky link (tests)"
    batch_size = 1  # one send at a time, so failures are counted one by one

    def send_many(
        self, channel: ChannelConfig, messages: Sequence[OutgoingMessage]
    ) -> list[SendResult]:
        PRIMARY_CALLS.extend(m.reference for m in messages)
        if OUTAGE.is_set():
            refused = SendResult(Outcome.RETRY, error_code="connect", reason="connection refused")
            return [refused for _ in messages]
        return super().send_many(channel, messages)


@pytest.fixture
def channels(workspace, channel, settings):
    """(primary, backup): the workspace's default channel is a flaky sandbox, backed up by
    a plain sandbox channel."""
    settings.COMPTOIR_PROVIDERS = [*settings.COMPTOIR_PROVIDERS, "tests.test_failover.FlakySandbox"]
    settings.COMPTOIR_FAILOVER_AFTER = 3
    settings.COMPTOIR_FAILOVER_COOLDOWN = 60
    provider_types.cache_clear()
    OUTAGE.clear()
    PRIMARY_CALLS.clear()
    channel.is_default = False
    channel.config["receipt_delay"] = 600
    channel.save()
    primary = channel_create(
        workspace=workspace,
        provider="flaky",
        name="Primary",
        config={"receipt_delay": 600},
        backup=channel,
    )
    Channel.objects.filter(id=primary.id).update(is_default=True)
    yield primary, channel
    OUTAGE.clear()
    provider_types.cache_clear()


def queue(workspace, count: int, start: int = 0) -> list[Message]:
    requests = [
        SendRequest(f"+336{n:08d}", f"Votre rendez-vous {n}", "transactional")
        for n in range(40_000_000 + start, 40_000_000 + start + count)
    ]
    return [r.message for r in messages_send(workspace=workspace, requests=requests)]


def carried(messages: Sequence[Message]) -> dict[str, int]:
    """How many times the network (both channels together) took each message."""
    rows = (
        CarrierMessage.objects.filter(reference__in=[str(m.id) for m in messages])
        .values("reference")
        .annotate(n=Count("id"))
    )
    return {r["reference"]: r["n"] for r in rows}


def by_channel(messages: Sequence[Message]) -> dict[str, int]:
    rows = (
        Message.objects.filter(id__in=[m.id for m in messages])
        .values("channel__name")
        .annotate(n=Count("id"))
    )
    return {r["channel__name"]: r["n"] for r in rows}


def test_a_backup_must_be_another_channel_of_the_same_workspace_and_scheme(
    workspace, other_workspace, channel
):
    elsewhere = Channel.objects.get(workspace=other_workspace, provider="sandbox")
    for backup, words in [(channel, "own backup"), (elsewhere, "same workspace")]:
        channel.backup = backup
        with pytest.raises(ValidationError, match=words):
            channel.full_clean()
    email_like = Channel.objects.create(
        workspace=workspace, provider="sandbox", name="Mail", scheme="email", address="a@b.fr"
    )
    channel.backup = email_like
    with pytest.raises(ValidationError, match="sms"):
        channel.full_clean()


def test_after_three_failures_in_a_row_the_queue_goes_through_the_backup(workspace, channels):
    primary, backup = channels
    messages = queue(workspace, 10)
    OUTAGE.set()
    report = dispatch_channel(primary.id)  # the backup is woken, and sends inline (tests)
    assert report.tripped
    assert report.moved == 10
    assert len(PRIMARY_CALLS) == 3  # not one more through a provider that is down
    primary.refresh_from_db()
    assert primary.status == ChannelStatus.FAILING
    assert primary.consecutive_failures == 3
    assert "3 sends failed in a row: connection refused" in primary.status_reason
    assert primary.failing_since is not None
    assert by_channel(messages) == {backup.name: 10}
    assert set(
        Message.objects.filter(id__in=[m.id for m in messages]).values_list("status", flat=True)
    ) == {Status.SENT}
    assert carried(messages) == {str(m.id): 1 for m in messages}
    history = list(messages[0].transitions.order_by("at", "id").values_list("status", "code"))
    assert history == [
        ("queued", ""),
        ("sending", ""),
        ("queued", "connect"),
        ("queued", MOVED),
        ("sending", ""),
        ("sent", ""),
    ]


def test_fewer_failures_than_the_threshold_only_retry_on_the_primary(workspace, channels):
    primary, _ = channels
    messages = queue(workspace, 2)
    OUTAGE.set()
    report = dispatch_channel(primary.id)
    assert not report.tripped and report.moved == 0 and report.retried == 2
    primary.refresh_from_db()
    assert (primary.consecutive_failures, primary.failing_since) == (2, None)
    OUTAGE.clear()
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=6)):
        assert dispatch_channel(primary.id).sent == 2
    primary.refresh_from_db()
    assert primary.consecutive_failures == 0
    assert by_channel(messages) == {primary.name: 2}


def test_while_cooling_down_new_messages_skip_the_primary_then_a_probe_brings_it_back(
    workspace, channels
):
    primary, backup = channels
    queue(workspace, 3)
    OUTAGE.set()
    dispatch_channel(primary.id)
    tripped_at = Channel.objects.get(id=primary.id).failing_since
    calls = len(PRIMARY_CALLS)

    later = queue(workspace, 4, start=100)
    report = dispatch_channel(primary.id)
    assert report.moved == 4 and len(PRIMARY_CALLS) == calls  # the primary was not tried
    assert report.retry_in > 50  # comes back when the cool-down ends
    assert by_channel(later) == {backup.name: 4}

    # Cool-down over, provider still down: one probe, then another cool-down.
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61)):
        probed = queue(workspace, 5, start=200)
        report = dispatch_channel(primary.id)
        assert len(PRIMARY_CALLS) == calls + 1
        assert report.moved == 5
        assert Channel.objects.get(id=primary.id).failing_since > tripped_at
    assert by_channel(probed) == {backup.name: 5}

    # The provider is back: the next probe succeeds and traffic returns to the primary.
    OUTAGE.clear()
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=125)):
        back = queue(workspace, 6, start=300)
        report = dispatch_channel(primary.id)
    assert report.sent == 6 and report.moved == 0
    primary.refresh_from_db()
    assert (primary.status, primary.status_reason) == (ChannelStatus.ACTIVE, "")
    assert (primary.consecutive_failures, primary.failing_since) == (0, None)
    assert by_channel(back) == {primary.name: 6}
    assert carried([*later, *probed, *back]) == {str(m.id): 1 for m in [*later, *probed, *back]}


def test_messages_being_sent_or_possibly_at_the_primary_never_move(workspace, channels):
    primary, backup = channels
    in_flight, crashed, *waiting = queue(workspace, 5)
    Message.objects.filter(id=in_flight.id).update(status=Status.SENDING, sending_at=timezone.now())
    # The primary took `crashed`, then its worker died before recording the answer.
    dispatch_channel_only(primary, crashed)
    Message.objects.filter(id=crashed.id).update(
        status=Status.SENDING, provider_id="", sending_at=timezone.now() - dt.timedelta(hours=1)
    )
    OUTAGE.set()
    # Re-queues `crashed` (the sandbox recognises references) and wakes the primary, whose
    # three other messages fail: it trips.
    reap()
    assert crashed.transitions.filter(code=REQUEUED_AFTER_CRASH).exists()
    primary.refresh_from_db()
    assert primary.failing_since is not None
    assert by_channel(waiting) == {backup.name: 3}
    # `crashed` may be at the primary already: only the primary may send it again.
    assert by_channel([in_flight, crashed]) == {primary.name: 2}
    crashed.refresh_from_db()
    assert crashed.status == Status.QUEUED
    OUTAGE.clear()
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61)):
        dispatch_channel(primary.id)  # the probe is `crashed` itself
    crashed.refresh_from_db()
    assert (crashed.status, crashed.channel_id) == (Status.SENT, primary.id)
    assert carried([crashed, *waiting]) == {str(m.id): 1 for m in [crashed, *waiting]}


def dispatch_channel_only(primary: Channel, message: Message) -> None:
    """Send one message through the primary, the others held back for the moment."""
    others = Message.objects.filter(channel=primary, status=Status.QUEUED).exclude(id=message.id)
    later = timezone.now() + dt.timedelta(hours=1)
    held = list(others.values_list("id", "send_at"))
    others.update(send_at=later)
    dispatch_channel(primary.id)
    for message_id, send_at in held:
        Message.objects.filter(id=message_id).update(send_at=send_at)


def test_no_usable_backup_keeps_the_messages_on_the_primary(workspace, channels):
    primary, backup = channels
    Channel.objects.filter(id=backup.id).update(status=ChannelStatus.DISABLED)
    messages = queue(workspace, 5)
    OUTAGE.set()
    report = dispatch_channel(primary.id)
    assert report.tripped and report.moved == 0
    assert by_channel(messages) == {primary.name: 5}
    assert (
        Message.objects.filter(id__in=[m.id for m in messages], status=Status.QUEUED).count() == 5
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_primary_going_down_mid_run_and_recovering_in_a_real_worker(
    workspace, channels, settings
):
    """200 messages at 50/s; the primary's link is cut after ~50, restored later."""
    primary, backup = channels
    settings.COMPTOIR_FAILOVER_COOLDOWN = 2
    Channel.objects.filter(id=primary.id).update(rate_limit=50)
    HUEY.immediate = False
    HUEY.flush()
    consumer = start_embedded_worker(workers=2)
    try:
        messages = queue(workspace, 200)
        ids = [m.id for m in messages]
        sent = Message.objects.filter(id__in=ids, status=Status.SENT)
        assert wait_for(lambda: sent.count() >= 50)
        OUTAGE.set()
        assert wait_for(lambda: sent.count() == 200, timeout=30), by_channel(messages)
        split = by_channel(messages)
        assert Channel.objects.get(id=primary.id).status == ChannelStatus.FAILING

        OUTAGE.clear()
        time.sleep(2.1)  # the cool-down ends; the next message probes the primary
        after = queue(workspace, 20, start=1000)
        after_sent = Message.objects.filter(id__in=[m.id for m in after], status=Status.SENT)
        assert wait_for(lambda: after_sent.count() == 20, timeout=20), by_channel(after)
    finally:
        consumer.stop(graceful=True)
        HUEY.flush()
        HUEY.immediate = True
    print(f"during the outage: {split}; after recovery: {by_channel(after)}")
    assert split[primary.name] >= 50 and split[backup.name] >= 50
    assert carried(messages) == {str(i): 1 for i in ids}  # each taken by the network once
    assert by_channel(after) == {primary.name: 20}
    primary.refresh_from_db()
    assert (primary.status, primary.failing_since) == (ChannelStatus.ACTIVE, None)


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_the_admin_offers_only_channels_that_can_back_this_one_up(
    workspace, other_workspace, channels, rf, admin_user
):
    from django.contrib import admin

    from comptoir.channels.admin import ChannelAdmin

    primary, backup = channels
    request = rf.get("/")
    request.user = admin_user
    form = ChannelAdmin(Channel, admin.site).get_form(request, primary, change=True)
    choices = form.base_fields["backup"].queryset
    assert list(choices) == [backup]  # not itself, not another workspace's sandbox
    bound = form(
        instance=primary,
        data={
            "name": primary.name,
            "address": primary.address,
            "config": "{}",
            "status": "active",
            "is_default": "on",
            "status_reason": "",
            "backup": str(Channel.objects.get(workspace=other_workspace).id),
        },
    )
    assert not bound.is_valid()
    assert "backup" in bound.errors
