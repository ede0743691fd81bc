"""Batches the provider took whole are recorded by a thread of their own, in order."""

from __future__ import annotations

import threading

import pytest

from comptoir.dispatch import dispatcher
from comptoir.dispatch.dispatcher import dispatch_channel
from comptoir.messaging.models import Message, MessageTransition, Status
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.providers.base import Outcome, SendResult
from comptoir.providers.registry import provider_type


def _queue(workspace, count: int, monkeypatch) -> None:
    """Queued without waking the dispatcher (Huey runs tasks at once in tests)."""
    monkeypatch.setattr("comptoir.messaging.outbox.wake_after_commit", lambda channel_id: None)
    phones = [f"+3361234{n:04d}" for n in range(count)]
    messages_send(
        workspace=workspace, requests=[SendRequest(p, "Vos lunettes sont prêtes") for p in phones]
    )


@pytest.mark.django_db(transaction=True)
def test_all_sent_batches_are_recorded_behind_the_sender_once_each(workspace, channel, monkeypatch):
    _queue(workspace, 300, monkeypatch)
    threads: list[str] = []
    record = dispatcher._record

    def spy(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return record(*args, **kwargs)

    monkeypatch.setattr(dispatcher, "_record", spy)
    told: list[str] = []
    sandbox = provider_type("sandbox")
    monkeypatch.setattr(sandbox, "recorded", lambda channel_id, ids: told.extend(ids))
    report = dispatch_channel(channel.id, batch=50)

    assert (report.claimed, report.sent, report.failed) == (300, 300, 0)
    assert report.outcomes == {"sent": 300}
    assert len(threads) == 6 and all(n.startswith("dispatch-record") for n in threads)
    sent = Message.objects.filter(workspace=workspace)
    assert sent.filter(status=Status.SENT).exclude(provider_id="").count() == 300
    assert sent.exclude(claim_token=None).count() == 0
    # The provider heard of every recorded send (an SMPP bind then stores held receipts).
    assert sorted(told) == sorted(sent.values_list("provider_id", flat=True))
    # One `sending` and one `sent` transition each: nothing recorded twice.
    for status in (Status.SENDING, Status.SENT):
        assert MessageTransition.objects.filter(status=status).count() == 300


@pytest.mark.django_db(transaction=True)
def test_a_batch_with_a_refusal_is_recorded_in_line_after_those_behind(
    workspace, channel, monkeypatch
):
    _queue(workspace, 100, monkeypatch)
    order: list[tuple[str, int]] = []
    record = dispatcher._record
    hand = dispatcher._hand_to_provider
    calls = {"n": 0}

    def provider(channel, ptype, config, rows):
        results = hand(channel, ptype, config, rows)
        calls["n"] += 1
        if calls["n"] == 2:  # the second batch: its first message refused by the provider
            results[0] = SendResult(Outcome.REJECTED, reason="refused by the carrier")
        return results

    def spy(channel, rows, results, token, report):
        order.append((threading.current_thread().name, len(rows)))
        return record(channel, rows, results, token, report)

    monkeypatch.setattr(dispatcher, "_hand_to_provider", provider)
    monkeypatch.setattr(dispatcher, "_record", spy)
    report = dispatch_channel(channel.id, batch=25)

    assert (report.sent, report.failed) == (99, 1)
    assert order[0][0].startswith("dispatch-record")  # all sent: behind the sender
    assert order[1][0] == threading.current_thread().name  # a refusal: in line
    assert Message.objects.filter(status=Status.FAILED).count() == 1
    assert Message.objects.filter(status=Status.SENT).count() == 99
