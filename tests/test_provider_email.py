"""Email over SMTP against a real SMTP server process on loopback (aiosmtpd).

The adapter alone (parts, headers, one connection per chunk, each SMTP answer's outcome),
then end to end through the outbox, compliance and the dispatcher (bounces recorded,
retries sending once, a wrong password holding the queue), then the unsubscribe link.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from comptoir.channels.crypto import encrypt_secrets
from comptoir.channels.models import Channel, ChannelStatus
from comptoir.channels.services import channel_create
from comptoir.compliance.consent import consent_record
from comptoir.compliance.models import ConsentEvent
from comptoir.contacts.models import Contact
from comptoir.contacts.services import contact_create
from comptoir.core.errors import NotFound, ValidationError
from comptoir.dispatch.dispatcher import dispatch_channel
from comptoir.messaging.models import Message, Status
from comptoir.messaging.outbox import SendRequest, message_send, messages_send
from comptoir.providers.base import ChannelConfig, Outcome, OutgoingMessage
from comptoir.providers.email import EmailType
from comptoir.providers.email.peer import PASSWORD, SmtpPeer
from comptoir.providers.email.unsubscribe import MAX_AGE
from comptoir.providers.registry import provider_types
from comptoir.workspaces.models import Workspace

SENDER = "boutique@optique.example"
# A Tuesday, 10:00 in Paris: inside the French marketing window.
OPEN_HOURS = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
ADAPTER = EmailType()


@pytest.fixture(scope="module")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpPeer]:
    with SmtpPeer(tmp_path_factory.mktemp("smtp")) as peer:
        yield peer


@pytest.fixture
def smtp(smtp_server: SmtpPeer) -> Iterator[SmtpPeer]:
    if smtp_server.process is None:  # a test stopped it
        smtp_server.start()
    smtp_server.mode = "accept"
    smtp_server.clear()
    yield smtp_server
    smtp_server.clear()


@pytest.fixture
def email_enabled(settings) -> Iterator[None]:
    if "comptoir.providers.email.EmailType" not in settings.COMPTOIR_PROVIDERS:
        settings.COMPTOIR_PROVIDERS = [
            *settings.COMPTOIR_PROVIDERS,
            "comptoir.providers.email.EmailType",
        ]
    provider_types.cache_clear()
    yield
    provider_types.cache_clear()


@pytest.fixture
def email_channel(workspace: Workspace, smtp: SmtpPeer, email_enabled: None) -> Channel:
    config, secrets = smtp.channel_values()
    return channel_create(
        workspace=workspace,
        provider="email",
        name="Boutique email",
        address=SENDER,
        config=config,
        secrets=secrets,
    )


@pytest.fixture
def anne(workspace: Workspace) -> Contact:
    return contact_create(
        workspace=workspace, phone="0612345678", first_name="Anne", email="anne@example.net"
    )


def config_for(smtp: SmtpPeer, **changes: object) -> ChannelConfig:
    config, secrets = smtp.channel_values()
    config.update(changes)
    return ChannelConfig(
        uuid=str(uuid.uuid4()),
        address=SENDER,
        config=config,
        secrets=secrets,
        base_url="https://comptoir.example",
    )


def outgoing(to: str = "anne@example.net", body: str = "Bonjour", **kw: str) -> OutgoingMessage:
    return OutgoingMessage(
        str(uuid.uuid4()), to, SENDER, body, "email", 1, subject=kw.get("subject", "Hello")
    )


def unsubscribe_path(header: str) -> str:
    url = re.search(r"<(https?://[^>]+)>", header)
    assert url is not None, header
    return urlsplit(url.group(1)).path


# -- the adapter against the server --------------------------------------------------------


def test_an_email_has_text_and_html_parts_and_one_click_unsubscribe(smtp):
    body = "Bonjour Anne,\nvos lunettes <Ray-Ban> sont prêtes & vous attendent.\n\nÀ bientôt"
    message = outgoing(body=body, subject="Vos lunettes sont prêtes")
    [result] = ADAPTER.send_many(config_for(smtp), [message])

    assert result.outcome is Outcome.SENT
    assert result.provider_id == f"<{message.reference}@optique.example>"
    [email] = smtp.emails()
    assert smtp.requests[0]["rcpt_tos"] == ["anne@example.net"]
    assert smtp.requests[0]["mail_from"] == SENDER
    assert smtp.requests[0]["login"] == "shop@example.org"
    assert email["Message-ID"] == result.provider_id
    assert email["Subject"] == "Vos lunettes sont prêtes"
    assert email["From"] == f"Optique Test <{SENDER}>"
    assert email.get_content_type() == "multipart/alternative"
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert text.startswith(body.replace("\n", "\r\n")) or text.startswith(body)
    assert "vos lunettes &lt;Ray-Ban&gt; sont prêtes &amp; vous attendent.</p>" in html
    assert "<p>Bonjour Anne,<br>" in html
    assert "<p>À bientôt</p>" in html
    assert "<Ray-Ban>" not in html
    unsubscribe = email["List-Unsubscribe"].strip()  # folded onto its own line: legal
    assert unsubscribe.startswith("<https://comptoir.example/email/unsubscribe/")
    assert "<mailto:unsubscribe@example.org?subject=unsubscribe>" in unsubscribe
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.search(r"<(https://[^>]+)>", unsubscribe).group(1)  # type: ignore[union-attr]
    assert link in text and link in html  # the same link, visible in both parts


def test_a_retry_carries_the_same_message_id(smtp):
    message = outgoing()
    first = ADAPTER.send(config_for(smtp), message)
    again = ADAPTER.send(config_for(smtp), message)
    assert first.provider_id == again.provider_id
    assert [e["Message-ID"] for e in smtp.emails()] == [first.provider_id] * 2


def test_a_chunk_goes_through_one_smtp_connection(smtp):
    results = ADAPTER.send_many(config_for(smtp), [outgoing(f"c{i}@example.net") for i in range(5)])
    assert [r.outcome for r in results] == [Outcome.SENT] * 5
    peers = {tuple(r["peer"]) for r in smtp.requests}
    assert len(smtp.requests) == 5 and len(peers) == 1
    ADAPTER.send_many(config_for(smtp), [outgoing()])
    assert len({tuple(r["peer"]) for r in smtp.requests}) == 2  # the next chunk: a new one


def test_each_smtp_answer_gives_its_outcome_and_the_rest_of_the_chunk_goes(smtp):
    smtp.rules(
        rcpt={
            "gone@example.net": "550 5.1.1 <gone@example.net>: No such user",
            "busy@example.net": "451 4.3.0 Mailbox busy, try later",
        }
    )
    results = ADAPTER.send_many(
        config_for(smtp),
        [outgoing("gone@example.net"), outgoing("busy@example.net"), outgoing("ok@example.net")],
    )
    gone, busy, ok = results
    assert (gone.outcome, gone.error_code) == (Outcome.REJECTED, "550")
    assert gone.reason == "550 5.1.1 <gone@example.net>: No such user"
    assert (busy.outcome, busy.error_code) == (Outcome.RETRY, "451")
    assert "Mailbox busy" in busy.reason
    assert ok.outcome is Outcome.SENT
    assert [r["rcpt_tos"] for r in smtp.requests] == [["ok@example.net"]]


def test_content_refused_at_data_is_rejected(smtp):
    smtp.behave("reject_data")
    result = ADAPTER.send(config_for(smtp), outgoing())
    assert (result.outcome, result.error_code) == (Outcome.REJECTED, "554")
    assert "spam" in result.reason
    assert smtp.emails() == []


def test_a_wrong_password_is_a_configuration_error(smtp):
    channel = config_for(smtp)
    wrong = ChannelConfig(
        channel.uuid, SENDER, channel.config, {"password": "not-the-password"}, channel.base_url
    )
    results = ADAPTER.send_many(wrong, [outgoing(), outgoing()])
    assert [r.outcome for r in results] == [Outcome.CONFIG_ERROR] * 2
    assert results[0].error_code == "535"
    assert "refused the username or password" in results[0].reason
    assert "not-the-password" not in results[0].reason
    assert ADAPTER.check_credentials(wrong) == results[0].reason
    assert ADAPTER.check_credentials(channel) is None
    assert smtp.emails() == []


def test_starttls_asked_of_a_server_without_it_is_a_configuration_error(smtp):
    result = ADAPTER.send(config_for(smtp, use_tls=True), outgoing())
    assert (result.outcome, result.error_code) == (Outcome.CONFIG_ERROR, "smtp_unsupported")
    assert "STARTTLS" in result.reason
    assert smtp.emails() == []


def test_a_server_that_is_down_means_retry(smtp):
    smtp.behave("down")  # the channel points at a port nobody listens on
    results = ADAPTER.send_many(config_for(smtp), [outgoing(), outgoing()])
    assert [r.outcome for r in results] == [Outcome.RETRY] * 2
    assert results[0].error_code == "smtp_connect"
    assert "Connection refused" in results[0].reason


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"host": ""}, "host"),
        ({"port": "smtp"}, "port"),
        ({"port": 70000}, "port"),
        ({"use_tls": "maybe"}, "use_tls"),
        ({"use_tls": True, "use_ssl": "true"}, "use_tls, use_ssl"),
        ({"timeout": 0}, "timeout"),
        ({"reply_to": "not an address"}, "reply_to"),
    ],
)
def test_settings_that_cannot_work_are_configuration_errors_naming_the_field(smtp, changes, field):
    result = ADAPTER.send(config_for(smtp, **changes), outgoing())
    assert result.outcome is Outcome.CONFIG_ERROR
    assert result.reason.startswith(f"{field}:"), result.reason


def test_a_sender_that_is_not_an_email_address_is_a_configuration_error(smtp):
    channel = config_for(smtp)
    named = ChannelConfig(channel.uuid, "OptiqueTest", channel.config, channel.secrets)
    result = ADAPTER.send(named, outgoing())
    assert result.outcome is Outcome.CONFIG_ERROR
    assert result.reason.startswith("address:")


# -- through the outbox and the dispatcher -------------------------------------------------


def send_email(workspace: Workspace, to: str = "0612345678", **kw: str) -> Message:
    kw.setdefault("subject", "Vos lunettes")
    return message_send(
        workspace=workspace,
        to=to,
        body=kw.pop("body", "Vos lunettes sont prêtes."),
        scheme="email",
        **kw,
    ).message


def test_an_email_goes_through_the_outbox_and_the_dispatcher(workspace, email_channel, anne, smtp):
    message = send_email(workspace)
    assert (message.channel_id, message.address) == (email_channel.id, "anne@example.net")
    assert (message.encoding, message.segments, message.subject) == ("email", 1, "Vos lunettes")

    report = dispatch_channel(email_channel.id)

    assert report.sent == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.provider_id == f"<{message.id}@optique.example>"
    [email] = smtp.emails()
    assert email["Message-ID"] == message.provider_id
    assert email["Subject"] == "Vos lunettes"
    assert email["To"] == "anne@example.net"
    history = list(message.transitions.order_by("at", "id").values_list("status", flat=True))
    assert history == ["queued", "sending", "sent"]


def test_a_subject_defaults_to_the_shop_name_and_texts_are_unchanged(
    workspace, email_channel, anne
):
    email = message_send(workspace=workspace, to=str(anne.id), body="Bonjour", scheme="email")
    assert email.message.subject == "Optique Test"
    text = message_send(workspace=workspace, to="0612345678", body="Bonjour").message
    assert (text.channel.scheme, text.address, text.subject) == ("sms", "+33612345678", "")
    assert text.encoding == "gsm7"


def test_an_email_address_or_a_channel_id_names_where_it_goes(workspace, email_channel, anne):
    by_address = send_email(workspace, to="Anne@Example.net")
    assert by_address.contact_id == anne.id
    by_channel = message_send(
        workspace=workspace, to=str(anne.id), body="Bonjour", channel=str(email_channel.id)
    ).message
    assert by_channel.channel_id == email_channel.id
    assert by_channel.address == "anne@example.net"


def test_a_bounce_is_recorded_on_the_message(workspace, email_channel, anne, smtp):
    smtp.rules(rcpt={"anne@example.net": "550 5.1.1 <anne@example.net>: Recipient unknown"})
    message = send_email(workspace)
    report = dispatch_channel(email_channel.id)
    assert report.failed == 1
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.error_code == "550"
    assert message.error_reason == "550 5.1.1 <anne@example.net>: Recipient unknown"
    last = message.transitions.order_by("-at", "-id").first()
    assert (last.status, last.code) == (Status.FAILED, "550")


def test_a_temporary_refusal_is_retried_and_sent_once(workspace, email_channel, anne, smtp):
    smtp.behave("tempfail")
    message = send_email(workspace)
    assert dispatch_channel(email_channel.id).retried == 1
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.QUEUED, "451")
    assert message.send_at > timezone.now()

    smtp.behave("accept")
    with time_machine.travel(message.send_at + dt.timedelta(seconds=1)):
        assert dispatch_channel(email_channel.id).sent == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SENT, 2)
    assert len(smtp.emails()) == 1


def test_a_server_that_is_down_loses_nothing(workspace, email_channel, anne, smtp):
    messages = [send_email(workspace, body=f"Message {i}") for i in range(3)]
    smtp.stop()
    try:
        report = dispatch_channel(email_channel.id)
    finally:
        smtp.start()
    assert report.retried == 3 and report.sent == 0
    assert {m.status for m in Message.objects.filter(channel=email_channel)} == {Status.QUEUED}

    later = max(Message.objects.filter(channel=email_channel).values_list("send_at", flat=True))
    with time_machine.travel(later + dt.timedelta(seconds=1)):
        assert dispatch_channel(email_channel.id).sent == 3
    assert sorted(e["Subject"] for e in smtp.emails()) == ["Vos lunettes"] * 3
    assert sorted(e.get_body(("plain",)).get_content()[:9] for e in smtp.emails()) == [
        f"Message {i}" for i in range(3)
    ]
    assert all(
        m.status == Status.SENT for m in Message.objects.filter(id__in=[m.id for m in messages])
    )


def test_a_wrong_password_holds_the_queue_and_marks_the_channel_failing(
    workspace, email_channel, anne, smtp
):
    smtp.behave("bad_credentials")
    _, secrets = smtp.channel_values()
    Channel.objects.filter(id=email_channel.id).update(secrets=encrypt_secrets(secrets))
    message = send_email(workspace)
    dispatch_channel(email_channel.id)
    message.refresh_from_db()
    email_channel.refresh_from_db()
    assert (message.status, message.error_code, message.attempts) == (Status.QUEUED, "535", 0)
    assert email_channel.status == ChannelStatus.FAILING
    assert "refused the username or password" in email_channel.status_reason
    assert smtp.emails() == []


def test_secrets_never_reach_the_logs(workspace, email_channel, anne, smtp, caplog):
    caplog.set_level(logging.DEBUG)
    send_email(workspace)
    dispatch_channel(email_channel.id)
    wrong = config_for(smtp)
    ADAPTER.send(
        ChannelConfig(wrong.uuid, SENDER, wrong.config, {"password": "Wr0ng-pa55word"}), outgoing()
    )
    smtp.stop()
    try:
        ADAPTER.send(config_for(smtp), outgoing())
    finally:
        smtp.start()
    texts = [caplog.text, *(str(r.__dict__) for r in caplog.records)]
    texts += list(Message.objects.values_list("error_reason", flat=True))
    texts += list(Channel.objects.values_list("status_reason", flat=True))
    assert caplog.records, "the sends logged nothing at all"
    for text in texts:
        assert PASSWORD not in text
        assert "Wr0ng-pa55word" not in text


# -- what is refused before anything is written --------------------------------------------


def test_a_contact_without_an_email_is_refused_naming_the_field(workspace, email_channel):
    contact_create(workspace=workspace, phone="0698765432", first_name="Paul")
    with pytest.raises(ValidationError) as error:
        messages_send(
            workspace=workspace,
            requests=[SendRequest("0698765432", "Bonjour", scheme="email")],
            field_prefix="messages.",
        )
    assert error.value.field == "messages.0.to"
    assert "email" in error.value.message and "Paul" in error.value.message
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("request_kw", "field", "error"),
    [
        ({"to": "nobody@example.net", "scheme": "email"}, "to", NotFound),
        ({"to": "0612345678", "scheme": "email", "subject": "a\nb"}, "subject", ValidationError),
        ({"to": "0612345678", "scheme": "email", "subject": "x" * 201}, "subject", ValidationError),
        ({"to": "0612345678", "subject": "Hello"}, "subject", ValidationError),
        ({"to": "0612345678", "scheme": "fax"}, "scheme", ValidationError),
        ({"to": "0612345678", "channel": "nope"}, "channel", ValidationError),
        ({"to": "0612345678", "channel": str(uuid.uuid4())}, "channel", NotFound),
        ({"to": "0612345678", "body": "x" * 100_001, "scheme": "email"}, "body", ValidationError),
    ],
)
def test_bad_email_requests_name_the_field(
    workspace, email_channel, anne, request_kw, field, error
):
    kw = {"body": "Bonjour", **request_kw}
    with pytest.raises(error) as raised:
        messages_send(workspace=workspace, requests=[SendRequest(**kw)])
    assert raised.value.field == field, raised.value.message
    assert not Message.objects.exists()


def test_a_channel_of_another_scheme_is_refused(workspace, email_channel, channel):
    with pytest.raises(ValidationError) as raised:
        message_send(
            workspace=workspace, to="0612345678", body="Hi", channel=str(channel.id), scheme="email"
        )
    assert raised.value.field == "scheme"


# -- consent and unsubscribing --------------------------------------------------------------


def grant_email_marketing(contact: Contact) -> None:
    consent_record(
        contact=contact, purposes=["marketing"], action="granted", source="form", channel="email"
    )


@time_machine.travel(OPEN_HOURS)
def test_marketing_by_email_needs_consent_given_for_email(workspace, email_channel, anne):
    consent_record(contact=anne, purposes=["marketing"], action="granted", source="form")  # sms
    refused = send_email(workspace, purpose="marketing")
    assert (refused.status, refused.error_code) == (Status.BLOCKED, "no_consent")
    assert "email" in refused.error_reason
    grant_email_marketing(anne)
    assert send_email(workspace, purpose="marketing").status == Status.QUEUED


@time_machine.travel(OPEN_HOURS, tick=False)
def test_one_click_unsubscribe_stops_marketing_emails_only(workspace, email_channel, anne, smtp):
    grant_email_marketing(anne)
    consent_record(contact=anne, purposes=["marketing"], action="granted", source="form")  # sms
    message = send_email(workspace, purpose="marketing", body="-20 % cette semaine")
    assert "STOP" not in message.body  # an email's way out is its link, not an SMS mention
    dispatch_channel(email_channel.id)
    [email] = smtp.emails()
    path = unsubscribe_path(email["List-Unsubscribe"])
    client = Client()

    page = client.get(path)
    assert page.status_code == 200
    assert b"Optique Test" in page.content and b'<form method="post">' in page.content
    assert not ConsentEvent.objects.filter(action="revoked").exists()

    done = client.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert done.status_code == 200
    assert b"unsubscribed" in done.content
    [event] = ConsentEvent.objects.filter(action="revoked")
    assert (event.contact_id, event.purpose, event.channel) == (anne.id, "marketing", "email")
    assert event.source == "email_unsubscribe"
    assert event.proof == {"message_id": str(message.id)}
    assert client.post(path).status_code == 200  # a provider's retry records nothing more
    assert ConsentEvent.objects.filter(action="revoked").count() == 1

    after = send_email(workspace, purpose="marketing", body="Encore -20 %")
    assert (after.status, after.error_code) == (Status.BLOCKED, "opted_out")
    assert "unsubscribed" in after.error_reason
    service = send_email(workspace, body="Vos lunettes sont prêtes")
    assert service.status == Status.QUEUED  # service emails still go
    text = message_send(workspace=workspace, to="0612345678", body="Promo", purpose="marketing")
    assert text.message.error_code != "opted_out", text.message.error_reason


@time_machine.travel(OPEN_HOURS, tick=False)
def test_an_unsubscribe_link_still_works_after_its_message_is_purged(
    workspace, email_channel, anne, smtp
):
    grant_email_marketing(anne)
    send_email(workspace, purpose="marketing")
    dispatch_channel(email_channel.id)
    path = unsubscribe_path(smtp.emails()[0]["List-Unsubscribe"])
    Message.objects.all().delete()
    assert Client().post(path).status_code == 200
    assert ConsentEvent.objects.filter(contact=anne, action="revoked", channel="email").exists()


def test_a_forged_or_expired_unsubscribe_link_changes_nothing(workspace, email_channel, anne, smtp):
    send_email(workspace)
    dispatch_channel(email_channel.id)
    path = unsubscribe_path(smtp.emails()[0]["List-Unsubscribe"])
    client = Client()
    before = ConsentEvent.objects.count()

    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    for attempt in (client.get(forged), client.post(forged)):
        assert attempt.status_code == 400
        assert b"not valid" in attempt.content
    other = client.post("/email/unsubscribe/" + "x" * 40)
    assert other.status_code == 400

    with time_machine.travel(timezone.now() + MAX_AGE + dt.timedelta(days=1)):
        expired = client.post(path)
    assert expired.status_code == 400
    assert b"expired" in expired.content
    assert ConsentEvent.objects.count() == before


def test_unsubscribe_answers_only_get_and_post(workspace, email_channel, anne, smtp):
    send_email(workspace)
    dispatch_channel(email_channel.id)
    path = unsubscribe_path(smtp.emails()[0]["List-Unsubscribe"])
    assert Client().put(path).status_code == 405


# -- the API ---------------------------------------------------------------------------------


def test_the_api_sends_an_email_with_its_subject(api, workspace, email_channel, anne):
    response = api.post(
        "/api/v1/messages",
        {"to": "0612345678", "body": "Vos lunettes", "scheme": "email", "subject": "Prêtes"},
    )
    assert response.status_code == 202, response.content
    data = response.json()
    assert (data["to"], data["subject"], data["encoding"]) == (
        "anne@example.net",
        "Prêtes",
        "email",
    )
    assert data["channel_id"] == str(email_channel.id)
    by_channel = api.post(
        "/api/v1/messages",
        {"to": str(anne.id), "body": "Bonjour", "channel": str(email_channel.id)},
    )
    assert by_channel.status_code == 202, by_channel.content
    assert by_channel.json()["subject"] == "Optique Test"
    text = api.post("/api/v1/messages", {"to": "0612345678", "body": "Bonjour"})
    assert (text.json()["to"], text.json()["subject"]) == ("+33612345678", "")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"scheme": "fax"}, "scheme"),
        ({"subject": "Only for email"}, "subject"),
        ({"scheme": "email", "subject": "x" * 201}, "subject"),
        ({"channel": "not-a-uuid"}, "channel"),
    ],
)
def test_the_api_names_the_wrong_field(api, workspace, email_channel, anne, payload, field):
    response = api.post("/api/v1/messages", {"to": "0612345678", "body": "Bonjour", **payload})
    assert response.status_code == 422, response.content
    assert response.json()["error"]["field"] == field
    assert not Message.objects.exists()


def test_the_api_batch_names_the_contact_without_an_email(api, workspace, email_channel, anne):
    contact_create(workspace=workspace, phone="0698765432")
    response = api.post(
        "/api/v1/messages/batch",
        {
            "messages": [
                {"to": "0612345678", "body": "Bonjour", "scheme": "email"},
                {"to": "0698765432", "body": "Bonjour", "scheme": "email"},
            ]
        },
    )
    assert response.status_code == 422, response.content
    assert response.json()["error"]["field"] == "messages.1.to"
    assert not Message.objects.exists()
