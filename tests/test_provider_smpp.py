"""The SMPP adapter against a real SMSC process on loopback (node-smpp, tests/smpp_server).

Each test binds a real channel through the process's bind registry (the same code the
worker runs), so receipts and customers' texts are stored by a database thread: the
tests use transactional databases.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from comptoir.channels.crypto import encrypt_secrets
from comptoir.channels.models import Channel, ChannelStatus
from comptoir.channels.services import channel_create
from comptoir.dispatch.dispatcher import dispatch_channel
from comptoir.messaging.models import Direction, Message, Status
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.providers.base import DeliveryStatus, Outcome, OutgoingMessage, StatusUpdate
from comptoir.providers.registry import provider_type, provider_types
from comptoir.providers.smpp import pdu
from comptoir.providers.smpp.coding import gsm7_decode, gsm7_encode
from comptoir.providers.smpp.config import State
from comptoir.providers.smpp.deliver import parse
from comptoir.providers.smpp.peer import PASSWORD, SYSTEM_ID, Smsc
from comptoir.providers.smpp.sessions import sessions
from comptoir.workspaces.models import Workspace

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURES = Path(__file__).resolve().parents[1] / "comptoir" / "providers" / "smpp" / "fixtures"
PROVIDERS = ["comptoir.providers.sandbox.SandboxType", "comptoir.providers.smpp.SmppType"]


def fixture(name: str) -> list[dict[str, str]]:
    """The PDUs of a fixture file (one per line), as the SMSC delivers them."""
    return [{"hex": line} for line in (FIXTURES / name).read_text().split()]


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def smsc() -> Iterator[Smsc]:
    server = Smsc().start()
    yield server
    server.kill()


@pytest.fixture(autouse=True)
def smpp_enabled(smsc: Smsc) -> Iterator[None]:
    """SMPP in the registry whatever the settings say; every bind gone after each test."""
    smsc.behave("accept")
    with override_settings(COMPTOIR_PROVIDERS=PROVIDERS):
        provider_types.cache_clear()
        yield
        sessions().stop_all()
    provider_types.cache_clear()


def smpp_channel(workspace: Workspace, smsc: Smsc, **config: Any) -> Channel:
    password = config.pop("password", PASSWORD)
    channel = channel_create(
        workspace=workspace,
        provider="smpp",
        name="Opérateur",
        address="Optique",
        config={
            "host": "127.0.0.1",
            "port": smsc.port,
            "system_id": SYSTEM_ID,
            "enquire_link": 5,
            **config,
        },
        secrets={"password": password},
    )
    # The shop's default SMS channel, so the outbox sends through it.
    Channel.objects.filter(workspace=workspace).update(is_default=False)
    Channel.objects.filter(id=channel.id).update(is_default=True)
    return channel


def out(body: str, encoding: str = "gsm7", to: str = "+33612345678") -> OutgoingMessage:
    return OutgoingMessage(f"ref-{time.time_ns()}", to, "Optique", body, encoding, 1)


def send(channel: Channel, *messages: OutgoingMessage) -> list[Any]:
    return provider_type("smpp").send_many(channel.as_config(), list(messages))


# -- the codec on its own -------------------------------------------------------------------


def test_garbage_headers_raise_precise_errors() -> None:
    with pytest.raises(pdu.PduError, match="command_length 1213486160 is over"):
        pdu.parse_header(b"HTTP/1.1 400 Bad Request\r\n")
    with pytest.raises(pdu.PduError, match="shorter than the 16-octet header"):
        pdu.parse_header(bytes.fromhex("00000008000000040000000000000001"))
    with pytest.raises(pdu.PduError, match="service_type: no NUL terminator within 6"):
        pdu.ShortMessage.decode(b"ABCDEFGHIJ", "deliver_sm")


def test_gsm7_is_sent_unpacked_with_escapes() -> None:
    text = "Prix: 10€ [promo] à Ölm"
    encoded = gsm7_encode(text)
    assert encoded[:10] == b"Prix: 10\x1b\x65"  # € through the extension table
    assert encoded[10:12] == b" \x1b" and encoded[12] == 0x3C  # [
    assert encoded[-5:] == b"\x7f \x5clm"  # à and Ö from the default table
    assert gsm7_decode(encoded) == text


def test_fixtures_written_by_node_smpp_decode() -> None:
    raw = bytes.fromhex(fixture("receipt_undeliverable.hex")[0]["hex"])
    event = parse(pdu.ShortMessage.decode(raw[16:], "deliver_sm"))
    assert event == StatusUpdate(
        "7f00e1", DeliveryStatus.FAILED, error_code="UNDELIV", reason="stat:UNDELIV err:001"
    )


# -- sending ----------------------------------------------------------------------------------


def test_binds_and_sends_gsm7_and_ucs2(workspace: Workspace, smsc: Smsc) -> None:
    channel = smpp_channel(workspace, smsc, system_type="COMPTOIR")
    results = send(channel, out("Vos lunettes sont là ! {10€} Ça va ?"), out("Спасибо 😊", "ucs2"))
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    submits = smsc.submits()
    assert [s["message_id"] for s in submits] == [r.provider_id for r in results]
    # node-smpp decodes what we encoded: GSM-7 default alphabet (0) and UCS-2 (8).
    assert (submits[0]["data_coding"], submits[0]["text"]) == (
        0,
        "Vos lunettes sont là ! {10€} Ça va ?",
    )
    assert (submits[1]["data_coding"], submits[1]["text"]) == (8, "Спасибо 😊")
    assert submits[0]["destination_addr"] == "33612345678"
    assert (submits[0]["dest_addr_ton"], submits[0]["dest_addr_npi"]) == (1, 1)
    assert (submits[0]["source_addr_ton"], submits[0]["source_addr_npi"]) == (5, 0)
    [bind] = smsc.binds()
    assert (bind["system_id"], bind["system_type"], bind["status"]) == (SYSTEM_ID, "COMPTOIR", 0)
    assert bind["interface_version"] == 0x34


@pytest.mark.parametrize("use_sar", [False, True], ids=["udh", "sar"])
def test_a_long_text_goes_as_three_parts(workspace: Workspace, smsc: Smsc, use_sar: bool) -> None:
    channel = smpp_channel(workspace, smsc, use_sar=use_sar)
    body = ("Rappel : votre rendez-vous chez Optique Lumière est demain à 15h. " * 6)[:400]
    [result] = send(channel, out(body))
    parts = smsc.submits()
    assert result.outcome is Outcome.SENT and len(parts) == 3
    assert "".join(p["text"] for p in parts) == body
    # The receipt is asked for on the last part, whose id the message keeps.
    assert [p["registered_delivery"] for p in parts] == [0, 0, 1]
    assert result.provider_id == parts[-1]["message_id"]
    if use_sar:
        assert [p["sar"]["seq"] for p in parts] == [1, 2, 3]
        assert {(p["sar"]["ref"], p["sar"]["total"]) for p in parts} == {
            (parts[0]["sar"]["ref"], 3)
        }
        assert all(p["esm_class"] == 0 and not p["udh"] for p in parts)
    else:
        ref = parts[0]["udh"][0][4:6]
        assert [p["udh"] for p in parts] == [[f"0003{ref}030{n}"] for n in (1, 2, 3)]
        assert all(p["esm_class"] == 0x40 for p in parts)


def test_refused_destination_is_rejected_with_the_status_name(
    workspace: Workspace, smsc: Smsc
) -> None:
    channel = smpp_channel(workspace, smsc)
    smsc.behave("reject")
    [result] = send(channel, out("Bonjour"))
    assert (result.outcome, result.error_code) == (Outcome.REJECTED, "ESME_RINVDSTADR")


def test_a_sender_smpp_cannot_carry_is_a_configuration_error(
    workspace: Workspace, smsc: Smsc
) -> None:
    channel = smpp_channel(workspace, smsc)
    message = OutgoingMessage("ref-zoe", "+33612345678", "Opticien Zoé", "Bonjour", "gsm7", 1)
    [result] = send(channel, message)
    assert (result.outcome, result.reason) == (
        Outcome.CONFIG_ERROR,
        "source_addr has characters outside ASCII",
    )
    assert smsc.stats()["submits"] == 0


# -- the whole pipeline, receipts and customers' texts ----------------------------------------


def test_outbox_to_delivered_through_the_pipeline(workspace: Workspace, smsc: Smsc) -> None:
    channel = smpp_channel(workspace, smsc)
    smsc.behave("receipts")
    sent = messages_send(
        workspace=workspace,
        requests=[SendRequest(f"+3361234{i:04d}", f"Commande {i} prête", "transactional")
                  for i in range(30)],
    )  # fmt: skip
    ids = [e.message.id for e in sent]
    # Huey runs inline in tests: the dispatcher already ran; receipts come over the bind.
    delivered = Message.objects.filter(id__in=ids, status=Status.DELIVERED)
    assert wait_for(lambda: delivered.count() == 30), list(
        Message.objects.filter(id__in=ids).values_list("status", "error_reason")
    )
    assert smsc.stats()["accepted"] == 30
    ours = set(Message.objects.filter(id__in=ids).values_list("provider_id", flat=True))
    assert ours == {s["message_id"] for s in smsc.submits()}
    assert Channel.objects.get(id=channel.id).status == ChannelStatus.ACTIVE


def test_failed_receipt_fails_the_message(workspace: Workspace, smsc: Smsc) -> None:
    smpp_channel(workspace, smsc)
    smsc.behave(receipts={"stat": "UNDELIV", "err": "034", "tlv": False})
    [enqueued] = messages_send(workspace=workspace, requests=[SendRequest("+33612345678", "Hé")])
    message = Message.objects.filter(id=enqueued.message.id)
    assert wait_for(lambda: message.get().status == Status.FAILED)
    assert (message.get().error_code, message.get().error_reason) == (
        "UNDELIV",
        "stat:UNDELIV err:034",
    )


def test_customers_texts_are_stored_once_before_the_smsc_is_answered(
    workspace: Workspace, smsc: Smsc
) -> None:
    channel = smpp_channel(workspace, smsc)
    config = channel.as_config()
    assert sessions().bind_problem(config, _settings(channel)) is None
    first, second, third = fixture("mo_udh_3_parts.hex")
    parts = [first, third, second]  # out of order, as may happen
    answers = smsc.deliver(*fixture("mo_gsm7.hex"), *fixture("mo_ucs2.hex"), *parts)
    sar = smsc.deliver(*fixture("mo_sar_2_parts.hex"))
    # Every deliver_sm_resp came after the text was stored.
    assert [a["status"] for a in answers + sar] == [0] * 7
    inbound = Message.objects.filter(channel=channel, direction=Direction.IN)
    bodies = sorted(inbound.values_list("body", flat=True))
    assert bodies == sorted(
        [
            "Oui, je passe demain à 10h. Merci !",
            "Merci ! 😊 À demain",
            "Bonjour, je voulais savoir si mes lunettes sont prêtes. J'ai déposé l'ordonnance "
            "mardi dernier et on m'avait dit une semaine. Je peux passer samedi matin vers 10h "
            "si c'est bon. Merci beaucoup et bonne journée à toute l'équipe !",
            "Je confirme le rendez-vous de jeudi a 15h, avec ma fille. A jeudi !",
        ]
    )
    assert set(inbound.values_list("address", flat=True)) == {"+33612345678"}
    # The SMSC delivering a long text again (our answer lost) stores nothing new.
    assert [a["status"] for a in smsc.deliver(*parts)] == [0, 0, 0]
    assert inbound.count() == 4


def test_unreadable_deliver_sm_is_refused_and_the_bind_stays(
    workspace: Workspace, smsc: Smsc
) -> None:
    channel = smpp_channel(workspace, smsc)
    assert sessions().bind_problem(channel.as_config(), _settings(channel)) is None
    [answer] = smsc.deliver(*fixture("mo_bad_udh.hex"))
    assert answer["status"] == pdu.STATUS["ESME_RX_P_APPN"]
    assert smsc.stats()["binds"] == 1
    assert not Message.objects.filter(direction=Direction.IN).exists()


# -- keeping the bind --------------------------------------------------------------------------


def test_enquire_link_keeps_an_idle_bind(workspace: Workspace, smsc: Smsc) -> None:
    smsc.behave(idle_timeout_ms=600)  # like an SMSC's inactivity timer
    channel = smpp_channel(workspace, smsc, enquire_link=0.2)
    assert sessions().bind_problem(channel.as_config(), _settings(channel)) is None
    time.sleep(2.0)
    stats = smsc.stats()
    assert stats["enquire_links"] >= 5
    assert (stats["binds"], stats["idle_closes"]) == (1, 0)
    assert send(channel, out("Toujours là"))[0].outcome is Outcome.SENT
    assert smsc.stats()["binds"] == 1


def test_without_keep_alive_the_smsc_closes_an_idle_bind(workspace: Workspace, smsc: Smsc) -> None:
    # The control for the test above: the same timer does close a silent bind.
    smsc.behave(idle_timeout_ms=600)
    channel = smpp_channel(workspace, smsc, enquire_link=30)
    assert sessions().bind_problem(channel.as_config(), _settings(channel)) is None
    assert wait_for(lambda: smsc.stats()["idle_closes"] >= 1, timeout=5)


def test_garbage_bytes_drop_the_connection_and_it_binds_again(
    workspace: Workspace, smsc: Smsc, caplog: pytest.LogCaptureFixture
) -> None:
    channel = smpp_channel(workspace, smsc)
    assert sessions().bind_problem(channel.as_config(), _settings(channel)) is None
    with caplog.at_level(logging.WARNING, logger="comptoir.providers.smpp"):
        assert smsc.garbage(b"HTTP/1.1 400 Bad Request\r\n\r\n") == 1
        assert wait_for(lambda: smsc.stats()["binds"] == 2 and smsc.stats()["bound"] == 1)
    assert "not SMPP: command_length 1213486160 is over" in caplog.text
    assert send(channel, out("Après le bruit"))[0].outcome is Outcome.SENT


# -- bad input: credentials, a vanishing SMSC, throttling --------------------------------------


def test_wrong_password_marks_the_channel_failing_and_messages_wait(
    workspace: Workspace, smsc: Smsc, caplog: pytest.LogCaptureFixture
) -> None:
    channel = smpp_channel(workspace, smsc, password="wr0ngpw")
    with caplog.at_level(logging.DEBUG):
        [enqueued] = messages_send(
            workspace=workspace, requests=[SendRequest("+33612345678", "Bonjour")]
        )
    message = Message.objects.get(id=enqueued.message.id)
    assert (message.status, message.error_code, message.attempts) == (
        Status.QUEUED,
        "bind_refused",
        0,
    )
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.FAILING
    assert channel.status_reason == "the SMSC refused the bind: ESME_RINVPASWD"
    assert smsc.stats()["submits"] == 0
    # The password is never logged, neither the wrong one nor (below) the right one.
    assert "wr0ngpw" not in caplog.text

    # The owner fixes the password: the bind is made again and the message goes.
    Channel.objects.filter(id=channel.id).update(secrets=encrypt_secrets({"password": PASSWORD}))
    Message.objects.filter(id=message.id).update(send_at=message.created_at)
    with caplog.at_level(logging.DEBUG):
        report = dispatch_channel(channel.id)
    assert report.sent == 1, report
    assert Message.objects.get(id=message.id).status == Status.SENT
    channel.refresh_from_db()
    assert (channel.status, channel.status_reason) == (ChannelStatus.ACTIVE, "")
    assert PASSWORD not in caplog.text


def test_smsc_killed_mid_window_leaves_no_duplicate(workspace: Workspace, smsc: Smsc) -> None:
    channel = smpp_channel(workspace, smsc, window=10)
    smsc.behave("silent", answer_first=4)
    requests = [SendRequest(f"+3361234{i:04d}", f"Message {i}") for i in range(10)]
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = False  # queue only: the test runs the dispatcher itself
    try:
        ids = [e.message.id for e in messages_send(workspace=workspace, requests=requests)]
    finally:
        HUEY.flush()
        HUEY.immediate = True

    def kill_when_window_full() -> None:
        wait_for(lambda: smsc.stats()["submits"] >= 10)
        smsc.kill()

    killer = threading.Thread(target=kill_when_window_full)
    killer.start()
    try:
        report = dispatch_channel(channel.id)
    finally:
        killer.join()
        smsc.restart()
    statuses = [s for _, s in Message.objects.filter(id__in=ids).values_list("id", "status")]
    # The four answered are sent; the six in flight may have reached the SMSC: `unknown`,
    # never sent again.
    assert (report.sent, report.unconfirmed) == (4, 6)
    assert sorted(statuses) == sorted([Status.SENT] * 4 + [Status.UNKNOWN] * 6)
    assert dispatch_channel(channel.id).claimed == 0
    assert smsc.stats()["submits"] == 0  # the new SMSC process was never sent any again


def test_throttling_slows_the_sender_and_loses_nothing(workspace: Workspace, smsc: Smsc) -> None:
    channel = smpp_channel(workspace, smsc, window=10)
    smsc.behave(throttle_rate=15)  # submit_sm per second; ESME_RTHROTTLED beyond
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = False
    try:
        enqueued = messages_send(
            workspace=workspace,
            requests=[SendRequest(f"+3361234{i:04d}", f"Offre {i}") for i in range(45)],
        )
    finally:
        HUEY.flush()
        HUEY.immediate = True
    ids = [e.message.id for e in enqueued]
    start = time.monotonic()
    outcomes: dict[str, int] = {}
    sent = Message.objects.filter(id__in=ids, status=Status.SENT)
    while sent.count() < 45 and time.monotonic() - start < 60:
        Message.objects.filter(id__in=ids, status=Status.QUEUED).update(send_at=_now())
        report = dispatch_channel(channel.id)
        for name, count in report.outcomes.items():
            outcomes[name] = outcomes.get(name, 0) + count
        time.sleep(report.retry_in or 0.05)
    elapsed = time.monotonic() - start
    assert sent.count() == 45
    assert outcomes.get(Outcome.THROTTLED, 0) > 0
    accepted = [s for s in smsc.submits() if s["outcome"] == "accepted"]
    texts = [s["text"] for s in accepted]
    assert sorted(texts) == sorted(f"Offre {i}" for i in range(45))  # each exactly once
    assert elapsed >= 2.0  # 45 at 15/s cannot go faster than the SMSC allows


def test_worker_start_binds_every_active_smpp_channel(workspace: Workspace, smsc: Smsc) -> None:
    from comptoir.providers.smpp.tasks import start_binds

    channel = smpp_channel(workspace, smsc)
    start_binds()
    assert wait_for(lambda: sessions().state(str(channel.id)) is State.BOUND)
    # Inbound flows with nothing sent.
    smsc.deliver(*fixture("mo_gsm7.hex"))
    assert Message.objects.filter(channel=channel, direction=Direction.IN).count() == 1
    Channel.objects.filter(id=channel.id).update(status=ChannelStatus.DISABLED)
    start_binds()
    assert sessions().state(str(channel.id)) is None


def _settings(channel: Channel) -> Any:
    from comptoir.providers.smpp.type import session_config

    return session_config(channel.as_config())


def _stale() -> Any:
    import datetime as dt

    from django.conf import settings

    return dt.timedelta(seconds=settings.COMPTOIR_SENDING_STALE_SECONDS + 1)


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


def test_benchmark_runs_and_reports_its_figures(db: None) -> None:
    from comptoir.benchmarks import smpp as bench

    with override_settings(COMPTOIR_PROVIDERS=PROVIDERS):
        # The API's enqueue in this process: another process could not see the test database.
        options = {"messages": 60, "rounds": 1, "workers": 2, "rate_seconds": 1.5}
        lines = bench.run({**options, "enqueue": "thread"})
    text = "\n".join(lines)
    assert "bare client loop" in text and "submit_sm/s" in text
    assert "rate limit 50/s" in text and "targets" in text
    assert "full outbox → sent" in text and "CPU µs per message" in text
    assert not Workspace.objects.filter(name__startswith="SMPP benchmark").exists()
