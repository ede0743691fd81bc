"""A bind's held receipts: kept while their send is not recorded, released when it is."""

from __future__ import annotations

import asyncio
import contextlib
import time

from comptoir.benchmarks.aio import run_async
from comptoir.providers.base import DeliveryStatus, InboundMessage, StatusUpdate
from comptoir.providers.smpp import inbox as inbox_module
from comptoir.providers.smpp import pdu
from comptoir.providers.smpp.bind import Connection
from comptoir.providers.smpp.client import Session
from comptoir.providers.smpp.config import SessionConfig
from comptoir.providers.smpp.inbox import Delivered, Inbox
from comptoir.providers.smpp.pdu import ESM_DELIVERY_RECEIPT, Command, ShortMessage


def receipt(message_id: str) -> Delivered:
    return Delivered(StatusUpdate(message_id, DeliveryStatus.DELIVERED), [1], 0)


def test_a_receipt_racing_its_record_waits_until_the_dispatcher_says_recorded():
    inbox = Inbox()
    inbox.accepted("m1")
    inbox.add(receipt("m1"))
    assert inbox.take(10) == []  # its send_many has not even returned
    inbox.returned(["m1"])
    assert inbox.take(10) == []  # returned, not yet recorded: still held
    inbox.recorded(["m1"])
    assert [d.event.provider_id for d in inbox.take(10)] == ["m1"]


def test_without_a_word_from_the_dispatcher_a_receipt_goes_after_the_grace(monkeypatch):
    inbox = Inbox()
    inbox.accepted("m2")
    inbox.returned(["m2"])
    inbox.add(receipt("m2"))
    assert inbox.take(10) == []
    later = time.monotonic() + inbox_module.RECORD_GRACE + 0.1
    monkeypatch.setattr(inbox_module.time, "monotonic", lambda: later)
    assert len(inbox.take(10)) == 1


def test_texts_and_receipts_of_ids_never_given_out_go_at_once():
    inbox = Inbox()
    inbox.add(receipt("not-ours"))
    inbox.add(Delivered(InboundMessage("in-1", "+33612345678", "Optique", "Bonjour"), [2], 0))
    assert len(inbox.take(10)) == 2


def test_forgotten_ids_are_swept_at_most_every_few_seconds(monkeypatch):
    inbox = Inbox()
    for n in range(10_001):
        inbox.accepted(f"m{n}")
    now = time.monotonic() + inbox_module.REMEMBER + 1
    monkeypatch.setattr(inbox_module.time, "monotonic", lambda: now)
    inbox.take(10)
    assert len(inbox._unrecorded) == 0  # swept: all too old
    for n in range(10_001):
        inbox.accepted(f"n{n}")
    kept = inbox._unrecorded
    inbox.take(10)
    assert inbox._unrecorded is kept  # not read again within SWEEP_EVERY


def test_a_receipt_whose_send_never_returned_goes_after_the_hold_max(monkeypatch):
    inbox = Inbox()
    inbox.accepted("m3")
    inbox.add(receipt("m3"))
    assert inbox.take(10) == [] and inbox.waiting() and len(inbox) == 1
    later = time.monotonic() + inbox_module.HOLD_MAX + 0.1
    monkeypatch.setattr(inbox_module.time, "monotonic", lambda: later)
    assert [d.event.provider_id for d in inbox.take(10)] == ["m3"]
    assert not inbox.waiting() and len(inbox) == 0


def test_many_held_receipts_leave_texts_and_released_ids_to_go_in_arrival_order():
    inbox = Inbox()
    for n in range(20_000):  # one send_many of 20,000 still running
        inbox.accepted(f"m{n}")
        inbox.add(receipt(f"m{n}"))
    text = Delivered(InboundMessage("in-2", "+33612345678", "Optique", "Bonjour"), [3], 0)
    inbox.add(text)
    assert inbox.take(500) == [text]
    inbox.recorded(["m7", "m3", "m19999"])
    taken = [d.event.provider_id for d in inbox.take(500)]
    assert taken == ["m7", "m3", "m19999"]  # in the order the dispatcher said so
    assert len(inbox) == 20_000 - 3


def test_a_receipt_read_with_its_submit_sm_resp_is_held_not_stored_early():
    """The SMSC may write a message's receipt right behind its submit_sm_resp, and both
    arrive in one read: the bind must know the id as ours before it reads the receipt
    (not once the waiting submit resumes, a turn of the loop later)."""

    async def scenario() -> list[Delivered]:
        session = Session(SessionConfig("127.0.0.1", 1, "comptoir", "secret"), None, None)  # type: ignore[arg-type]
        reader = asyncio.StreamReader()
        conn = Connection(reader, None, 1)  # type: ignore[arg-type]
        waiting = asyncio.get_running_loop().create_future()
        session._pending[7] = waiting
        answer = pdu.encode(Command.SUBMIT_SM_RESP, 7, b"m42\x00")
        report = ShortMessage(
            source_addr="33612345678",
            destination_addr="Optique",
            esm_class=ESM_DELIVERY_RECEIPT,
            short_message=b"id:m42 sub:001 dlvrd:001 stat:DELIVRD err:000 text:",
        )
        reader.feed_data(answer + pdu.encode(Command.DELIVER_SM, 1, report.encode()))
        reader.feed_eof()
        with contextlib.suppress(asyncio.IncompleteReadError):
            await session._read_loop(conn)
        assert waiting.done()
        return session._inbox.take(10)

    assert run_async(scenario()) == []  # held until the dispatcher records m42
