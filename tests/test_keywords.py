"""Opt-out, opt-in and help keywords, and what a customer's STOP does to later sends."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine

from comptoir.compliance.consent import consent_record, consent_state, opted_out
from comptoir.compliance.keywords import KeywordKind, keyword_table, match, normalize
from comptoir.compliance.models import ConsentEvent, WorkspaceKeyword
from comptoir.contacts.models import Contact
from comptoir.messaging.models import Message, Status
from comptoir.messaging.outbox import message_send
from comptoir.sandbox.carrier import customer_texts
from tests.conftest import grant_marketing

MONDAY_MORNING = dt.datetime(2026, 11, 23, 10, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
FR = keyword_table(["fr", "en"])
EN = keyword_table(["en"])
OUT, IN, HELP = KeywordKind.OPT_OUT, KeywordKind.OPT_IN, KeywordKind.HELP


@pytest.mark.parametrize(
    ("text", "table", "expected"),
    [
        ("STOP", EN, OUT),
        ("Stop.", EN, OUT),
        ("  stop  ", EN, OUT),
        ("stop please", EN, OUT),
        ("STOPALL", EN, OUT),
        ("end", EN, OUT),
        ("Cancel", EN, OUT),
        ("unsubscribe", EN, OUT),
        ("QUIT", EN, OUT),
        ("revoke", EN, OUT),
        ("opt out", EN, OUT),
        ("Opt-out", EN, OUT),
        ("don't stop the promo", EN, None),
        ("please stop sending me these", EN, None),
        ("stop it now please thanks", EN, None),
        ("START", EN, IN),
        ("unstop", EN, IN),
        ("Yes", EN, IN),
        ("HELP", EN, HELP),
        ("info?", EN, HELP),
        ("ARRET", FR, OUT),
        ("ARRÊT", FR, OUT),
        ("arrêt svp", FR, OUT),
        ("Arrêter", FR, OUT),
        ("STOP SMS", FR, OUT),
        ("stop sms merci", FR, OUT),
        ("désabonner", FR, OUT),
        ("DESABONNER", FR, OUT),
        ("STOP", FR, OUT),
        ("oui", FR, IN),
        ("AIDE", FR, HELP),
        ("Merci pour les lunettes, elles sont parfaites", FR, None),
        ("", FR, None),
        ("🙂", FR, None),
        ("arrêt", EN, None),  # French words only where French is spoken
    ],
)
def test_keyword_matching(text, table, expected):
    assert match(text, table) is expected


def test_normalize_folds_case_accents_and_punctuation():
    assert normalize("  ARRÊT !! ") == "arret"
    assert normalize("Opt-Out.") == "opt out"


def test_opt_out_wins_when_a_word_is_listed_twice():
    table = keyword_table(["en"], extra=[("stop", "opt_in")])
    assert table["stop"] is OUT


def test_a_workspace_can_add_its_own_keywords(workspace, channel):
    WorkspaceKeyword.objects.create(workspace=workspace, word="STOP PROMO", kind="opt_out")
    customer_texts(channel=channel, sender="+33612345678", text="stop promo")
    contact = Contact.objects.get(workspace=workspace, phone="+33612345678")
    assert opted_out(contact)


def marketing(workspace, to="+33612345678"):
    return message_send(workspace=workspace, to=to, body="-20% ce week-end", purpose="marketing")


def test_stop_from_the_phone_blocks_the_next_marketing_send_with_its_reason(workspace, channel):
    grant_marketing(workspace, ["+33612345678"])
    assert marketing(workspace).message.status == Status.QUEUED

    customer_texts(channel=channel, sender="+33612345678", text="Stop.")

    contact = Contact.objects.get(workspace=workspace, phone="+33612345678")
    events = ConsentEvent.objects.filter(contact=contact, action="revoked")
    assert {e.purpose for e in events} == {"marketing", "service"}
    assert {e.source for e in events} == {"keyword"}
    assert events[0].proof["text"] == "Stop."
    blocked = marketing(workspace).message
    assert blocked.status == Status.BLOCKED
    assert blocked.error_code == "opted_out"
    assert "opted out" in blocked.error_reason
    # The confirmation went, once, even though the customer is now opted out.
    confirmation = Message.objects.get(contact=contact, kind="opt_out_confirmation")
    assert confirmation.status == Status.QUEUED
    assert confirmation.body.startswith("Optique Test : vous ne recevrez plus")
    customer_texts(channel=channel, sender="+33612345678", text="STOP")
    assert Message.objects.filter(contact=contact, kind="opt_out_confirmation").count() == 1


def test_a_message_queued_before_the_stop_is_blocked_at_send_time(workspace, channel):
    from comptoir.dispatch.dispatcher import dispatch_channel

    with time_machine.travel(MONDAY_MORNING, tick=True):  # inside the sending hours
        grant_marketing(workspace, ["+33612345678"])
        queued = marketing(workspace).message
        customer_texts(channel=channel, sender="+33612345678", text="ARRÊT")
        dispatch_channel(channel.id)
    queued.refresh_from_db()
    assert (queued.status, queued.error_code) == (Status.BLOCKED, "opted_out")


def test_service_messages_stop_too_but_the_customer_can_come_back(workspace, channel):
    customer_texts(channel=channel, sender="+33612345678", text="stop")
    refused = message_send(workspace=workspace, to="0612345678", body="Vos lunettes sont prêtes")
    assert refused.message.error_code == "opted_out"

    customer_texts(channel=channel, sender="+33612345678", text="START")
    contact = Contact.objects.get(workspace=workspace, phone="+33612345678")
    assert not opted_out(contact)
    assert Message.objects.filter(contact=contact, kind="opt_in_confirmation").exists()
    again = message_send(workspace=workspace, to="0612345678", body="Vos lunettes sont prêtes")
    assert again.message.status == Status.QUEUED


def test_yes_does_nothing_for_someone_who_never_left(workspace, channel):
    customer_texts(channel=channel, sender="+33612345678", text="oui")
    assert not ConsentEvent.objects.exists()
    assert not Message.objects.filter(kind="opt_in_confirmation").exists()


def test_help_answers_with_the_shop_name_and_how_to_stop(workspace, channel):
    customer_texts(channel=channel, sender="+33612345678", text="AIDE")
    reply = Message.objects.get(kind="help_reply")
    assert "Optique Test" in reply.body
    assert "STOP" in reply.body


def test_ordinary_text_changes_no_consent(workspace, channel):
    customer_texts(channel=channel, sender="+33612345678", text="don't stop the promo!")
    assert not ConsentEvent.objects.exists()


def test_marketing_needs_a_recorded_opt_in(workspace):
    result = marketing(workspace)
    assert (result.message.status, result.message.error_code) == (Status.BLOCKED, "no_consent")


def test_conflicting_events_in_the_same_second_resolve_by_arrival(workspace):
    from django.utils import timezone

    [contact] = Contact.objects.bulk_create(
        [Contact(workspace=workspace, phone="+33612345678", number_type="mobile")]
    )
    at = timezone.now()
    consent_record(contact=contact, purposes=["marketing"], action="granted", source="api", at=at)
    consent_record(contact=contact, purposes=["marketing"], action="revoked", source="api", at=at)
    assert consent_state([contact.id])[(contact.id, "marketing")] == "revoked"


def test_consent_events_are_append_only(workspace):
    [contact] = Contact.objects.bulk_create(
        [Contact(workspace=workspace, phone="+33612345678", number_type="mobile")]
    )
    [event] = consent_record(
        contact=contact, purposes=["marketing"], action="granted", source="staff"
    )
    event = ConsentEvent.objects.get(id=event.id)
    event.action = "revoked"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
