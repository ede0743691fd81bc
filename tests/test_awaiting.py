"""Reply steps look up questions only for customers who were asked one."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comptoir.automations.replies import appointment_replies_apply
from comptoir.contacts.models import Contact
from comptoir.messaging.awaiting import AWAITED_KINDS, awaiting_filter
from comptoir.messaging.models import Message
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.sandbox.carrier import customer_texts
from comptoir.segments.profiling import profiling_answers_apply

PHONE = "+33612345678"


def test_the_kinds_that_ask_are_registered():
    # Reminders are answered within 48 h; surveys allow up to 14 days: the longest wins.
    assert AWAITED_KINDS["automation"] == dt.timedelta(days=14)
    assert AWAITED_KINDS["profiling_question"] == dt.timedelta(days=90)


def test_a_question_marks_the_contact_and_a_plain_message_does_not(workspace, channel):
    contact = Contact.objects.create(workspace=workspace, phone=PHONE, number_type="mobile")
    messages_send(workspace=workspace, requests=[SendRequest(to=PHONE, body="Bonjour")])
    contact.refresh_from_db()
    assert contact.awaiting_until is None
    before = timezone.now()
    messages_send(
        workspace=workspace,
        requests=[SendRequest(to=PHONE, body="RDV demain ? C ou A", kind="automation")],
    )
    contact.refresh_from_db()
    assert contact.awaiting_until is not None
    assert before + dt.timedelta(days=14) <= contact.awaiting_until
    longer = contact.awaiting_until + dt.timedelta(days=30)
    Contact.objects.filter(id=contact.id).update(awaiting_until=longer)
    messages_send(
        workspace=workspace,
        requests=[SendRequest(to=PHONE, body="Encore ?", kind="automation")],
    )
    contact.refresh_from_db()
    assert contact.awaiting_until == longer  # a longer wait running is kept


def test_replies_from_customers_asked_nothing_cost_no_query(workspace, channel):
    customer_texts(channel=channel, sender=PHONE, text="C")
    customer_texts(channel=channel, sender="+33698765432", text="1 or")
    received = list(Message.objects.filter(direction="in").select_related("contact", "workspace"))
    assert len(received) == 2
    assert awaiting_filter(received, timezone.now()) == []
    with CaptureQueriesContext(connection) as captured:
        appointment_replies_apply(received)
        profiling_answers_apply(received)
    assert captured.captured_queries == []


def test_a_deadline_passed_is_no_longer_awaited(workspace, channel):
    customer_texts(channel=channel, sender=PHONE, text="C")
    message = Message.objects.select_related("contact").get(direction="in")
    now = timezone.now()
    message.contact.awaiting_until = now + dt.timedelta(minutes=1)
    assert awaiting_filter([message], now) == [message]
    assert awaiting_filter([message], now + dt.timedelta(minutes=2)) == []


def test_answers_of_a_batch_are_queued_together_with_the_loop_guard(workspace, channel):
    from comptoir.inbox.autoreply import KIND
    from comptoir.inbox.services import inbox_settings
    from comptoir.messaging.inbound import events_store_many
    from comptoir.providers.base import InboundMessage

    settings = inbox_settings(workspace)
    settings.shop_address = "12 rue des Lilas, Lyon"
    settings.save()
    texts = [
        ("+33611111111", "HORAIRES"),
        ("+33622222222", "ADRESSE"),
        ("+33611111111", "ADRESSE"),
        ("+33611111111", "ADRESSE ?"),  # the same rule again: not answered twice
    ]
    events = [
        InboundMessage(sender=s, recipient=channel.address, body=t, provider_id=f"batch-{i}")
        for i, (s, t) in enumerate(texts)
    ]
    events_store_many([(channel, events)])
    answered = Message.objects.filter(kind=KIND).values_list("contact__phone", flat=True)
    assert sorted(answered) == ["+33611111111", "+33611111111", "+33622222222"]
