"""A customer's rights: export everything held on them, erase it, and never text them again."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
import zipfile
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from comptoir.automations.models import Appointment
from comptoir.compliance import gdpr
from comptoir.compliance.consent import consent_record, consent_state
from comptoir.compliance.export import contact_export
from comptoir.compliance.gdpr import (
    contact_erase,
    phone_hash,
    rule_suppressed,
)
from comptoir.compliance.models import AuditEntry, ConsentEvent, Suppression
from comptoir.compliance.policy import Candidate
from comptoir.contacts.models import Contact, Purchase
from comptoir.contacts.phones import parse_phone
from comptoir.contacts.services import contact_create, contacts_for_phones
from comptoir.core.errors import NotFound
from comptoir.messaging.inbound import events_store
from comptoir.messaging.models import Message, MessageTransition, Status
from comptoir.messaging.outbox import message_send
from comptoir.providers.base import InboundMessage
from comptoir.sandbox.carrier import customer_texts
from comptoir.workspaces.models import ApiKey
from tests.conftest import grant_marketing

PHONE = "+33612345678"
NATIONAL_DIGITS = "612345678"  # in any format the number is written
# A Monday morning in Paris: marketing is inside the legal window.
OPEN_HOURS = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))


def customer(workspace, channel, phone=PHONE, first_name="Émilie", body="Mes lunettes ?", email=""):
    """A contact with something in every table: tags, consent, purchase, visit, messages."""
    contact = contact_create(
        workspace=workspace,
        phone=phone,
        first_name=first_name,
        last_name="Durand",
        email=email or "emilie.durand@example.fr",
        birthday=dt.date(1984, 2, 29),
        attributes={"fidelity_card": "OL10001"},
        tags=["VIP", "myope"],
    )
    consent_record(
        contact=contact,
        purposes=["marketing"],
        action="granted",
        source="import",
        proof={"file": "caisse.csv", "row": 7},
    )
    Purchase.objects.create(
        workspace=workspace,
        contact=contact,
        purchased_on=dt.date(2025, 3, 1),
        amount=Decimal("249.90"),
        product_type="lunettes",
        brand="Ray-Ban",
    )
    Appointment.objects.create(
        workspace=workspace,
        contact=contact,
        starts_at=dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC),
        service="Examen de vue",
    )
    message_send(workspace=workspace, to=phone, body="Vos lunettes sont prêtes")
    events_store(
        channel=channel,
        events=[InboundMessage(f"in-{uuid.uuid4()}", phone, channel.address, body)],
    )
    return contact


def unzip(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# ---------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------


def test_export_holds_everything_on_the_person(workspace, channel):
    from comptoir.automations.services import customer_event_record
    from comptoir.inbox.services import conversation_for, conversation_note

    contact = customer(workspace, channel)
    customer_event_record(
        workspace=workspace, contact=contact, type="order.ready", data={"order": "A-17"}
    )
    conversation_note(
        conversation=conversation_for(workspace, contact=contact),
        body="Préfère être appelée le matin",
        author=None,
    )
    files = unzip(contact_export(workspace=workspace, contact_id=contact.id))

    assert set(files) == {
        "contact.json",
        "messages.csv",
        "purchases.csv",
        "appointments.csv",
        "consent.csv",
        "events.csv",
        "conversation_events.csv",
    }
    data = json.loads(files["contact.json"])
    person = data["contact"]
    assert (person["id"], person["phone"], person["first_name"]) == (
        str(contact.id),
        PHONE,
        "Émilie",
    )
    assert person["email"] == "emilie.durand@example.fr"
    assert person["birthday"] == "1984-02-29"
    assert person["attributes"] == {"fidelity_card": "OL10001"}
    assert person["tags"] == ["VIP", "myope"]
    assert [(p["amount"], p["brand"]) for p in data["purchases"]] == [("249.90", "Ray-Ban")]
    assert [a["service"] for a in data["appointments"]] == ["Examen de vue"]
    assert {(m["direction"], m["body"]) for m in data["messages"]} == {
        ("out", "Vos lunettes sont prêtes"),
        ("in", "Mes lunettes ?"),
    }
    assert all(m["transitions"] for m in data["messages"])
    assert [(c["purpose"], c["action"], c["source"]) for c in data["consent"]] == [
        ("marketing", "granted", "import")
    ]
    assert data["consent"][0]["proof"] == {"file": "caisse.csv", "row": 7}
    assert data["consent"][0]["actor_label"] == "import"
    assert [a["action"] for a in data["audit"]] == ["consent.recorded"]
    assert [(e["type"], e["data"]) for e in data["events"]] == [("order.ready", {"order": "A-17"})]
    assert [(e["kind"], e["body"]) for e in data["conversation_events"]] == [
        ("note", "Préfère être appelée le matin")
    ]

    assert len(rows(files["messages.csv"])) == 2
    assert rows(files["purchases.csv"])[0]["amount"] == "249.90"
    assert rows(files["consent.csv"])[0]["action"] == "granted"
    assert rows(files["appointments.csv"])[0]["service"] == "Examen de vue"


def test_export_is_audited_without_personal_data(workspace, channel):
    contact = customer(workspace, channel)
    contact_export(workspace=workspace, contact_id=contact.id, actor_label="api key cpt_x…")
    entry = AuditEntry.objects.get(action="contact.exported")
    assert (entry.target, entry.actor_label) == (str(contact.id), "api key cpt_x…")
    assert entry.details == {
        "messages": 2,
        "purchases": 1,
        "appointments": 1,
        "consent_events": 1,
        "events": 0,
        "conversation_events": 0,
    }


def test_export_cells_are_never_run_as_spreadsheet_formulas(workspace, channel):
    contact = customer(workspace, channel, body='=HYPERLINK("http://evil","clic")')
    files = unzip(contact_export(workspace=workspace, contact_id=contact.id))
    inbound = next(r for r in rows(files["messages.csv"]) if r["direction"] == "in")
    assert inbound["body"] == '\'=HYPERLINK("http://evil","clic")'
    assert inbound["address"] == PHONE  # a number stays a number
    # The JSON keeps the text as it was.
    data = json.loads(files["contact.json"])
    assert '=HYPERLINK("http://evil","clic")' in {m["body"] for m in data["messages"]}


def test_export_costs_the_same_queries_for_many_messages(workspace, channel):
    few = customer(workspace, channel)
    many = customer(workspace, channel, phone="+33687654321")
    for n in range(6):
        message_send(workspace=workspace, to="+33687654321", body=f"Message {n}")
    counts = []
    for contact in (few, many):
        with CaptureQueriesContext(connection) as context:
            contact_export(workspace=workspace, contact_id=contact.id)
        counts.append(len(context))
    assert counts[0] == counts[1]


@pytest.mark.parametrize("service", [contact_export, contact_erase])
def test_another_workspaces_contact_or_an_unknown_id_is_not_found(
    service, workspace, other_workspace
):
    theirs = contact_create(workspace=other_workspace, phone=PHONE)
    for contact_id in (theirs.id, uuid.uuid4(), "not-a-uuid"):
        with pytest.raises(NotFound) as caught:
            service(workspace=workspace, contact_id=contact_id)
        assert caught.value.field == "contact_id"
    assert Contact.objects.filter(id=theirs.id).exists()
    assert not Suppression.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="contact.").exists()


# ---------------------------------------------------------------------------------------
# Erasure
# ---------------------------------------------------------------------------------------


def _text_columns_holding(needle: str) -> list[str]:
    """Every row of every table, as text, that contains `needle` (the test database is tiny)."""
    found = []
    for model in apps.get_models():
        for row in model._default_manager.all().values():
            if needle in str(row):
                found.append(f"{model._meta.label}: {row}")
    return found


def test_erasure_leaves_nothing_of_the_person(workspace, channel):
    contact = customer(workspace, channel)
    kept = customer(
        workspace,
        channel,
        phone="+33687654321",
        first_name="Paul",
        body="Bonjour",
        email="paul@example.fr",
    )
    before = {
        "contacts": Contact.objects.count(),
        "messages": Message.objects.count(),
        "transitions": MessageTransition.objects.count(),
        "consent": ConsentEvent.objects.count(),
        "purchases": Purchase.objects.count(),
        "appointments": Appointment.objects.count(),
        "tags": Contact.tags.through.objects.count(),
    }
    assert Message.objects.filter(contact=contact).count() == 2

    deleted = contact_erase(workspace=workspace, contact_id=contact.id)

    after = {
        "contacts": Contact.objects.count(),
        "messages": Message.objects.count(),
        "transitions": MessageTransition.objects.count(),
        "consent": ConsentEvent.objects.count(),
        "purchases": Purchase.objects.count(),
        "appointments": Appointment.objects.count(),
        "tags": Contact.tags.through.objects.count(),
    }
    assert after == {
        "contacts": before["contacts"] - 1,
        "messages": before["messages"] - 2,
        "transitions": before["transitions"] - 2,
        "consent": before["consent"] - 1,
        "purchases": before["purchases"] - 1,
        "appointments": before["appointments"] - 1,
        "tags": before["tags"] - 2,
    }
    assert deleted["contacts.Contact"] == 1
    assert deleted["messaging.Message"] == 2
    assert not Message.objects.filter(address=PHONE).exists()
    # Not in any column of any table: not the number, not the name, not the text.
    for trace in (NATIONAL_DIGITS, "Émilie", "emilie.durand", "Mes lunettes ?"):
        assert _text_columns_holding(trace) == [], trace
    # The other customer is untouched.
    assert Message.objects.filter(contact=kept).count() == 2
    assert Contact.objects.get(id=kept.id).tags.count() == 2


def test_erasure_keeps_a_salted_hash_only(workspace, channel):
    contact = customer(workspace, channel)
    contact_erase(workspace=workspace, contact_id=contact.id, actor_label="staff anne")

    suppression = Suppression.objects.get()
    assert suppression.workspace_id == workspace.id
    assert suppression.phone_hash == phone_hash(workspace, PHONE)
    assert len(suppression.phone_hash) == 64
    assert suppression.reason == "erasure"
    entry = AuditEntry.objects.get(action="contact.erased")
    assert entry.target == suppression.phone_hash
    assert entry.actor_label == "staff anne"
    assert entry.details["contact_id"] == str(contact.id)
    assert entry.details["deleted"]["contacts.Contact"] == 1
    for model in (Suppression, AuditEntry):
        for row in model.objects.values():
            assert NATIONAL_DIGITS not in str(row), row


def test_the_hash_is_salted_per_workspace_and_keyed(workspace, other_workspace):
    mine, theirs = phone_hash(workspace, PHONE), phone_hash(other_workspace, PHONE)
    assert mine != theirs
    assert phone_hash(workspace.id, PHONE) == phone_hash(str(workspace.id), PHONE) == mine
    assert mine != phone_hash(workspace, "+33612345679")
    with override_settings(SECRET_KEY="another installation"):
        assert phone_hash(workspace, PHONE) != mine


def test_erasing_the_same_number_twice_keeps_one_entry(workspace, channel):
    contact_erase(workspace=workspace, contact_id=customer(workspace, channel).id)
    again = contact_create(workspace=workspace, phone=PHONE)
    contact_erase(workspace=workspace, contact_id=again.id)
    assert Suppression.objects.count() == 1
    assert AuditEntry.objects.filter(action="contact.erased").count() == 2


# ---------------------------------------------------------------------------------------
# Re-import and the suppression rule
# ---------------------------------------------------------------------------------------


@time_machine.travel(OPEN_HOURS, tick=False)
def test_a_reimported_number_gets_no_marketing(workspace, channel):
    old = customer(workspace, channel)
    contact_erase(workspace=workspace, contact_id=old.id)

    again = contact_create(workspace=workspace, phone="06 12 34 56 78", first_name="Émilie")
    assert again.id != old.id
    assert not ConsentEvent.objects.filter(contact=again).exists()
    assert consent_state([again.id]) == {}

    result = message_send(workspace=workspace, to=str(again.id), body="-20%", purpose="marketing")
    assert result.message.status == Status.BLOCKED
    assert result.message.error_code in {"erased", "no_consent"}


@time_machine.travel(OPEN_HOURS, tick=False)
def test_a_reimport_with_its_consent_column_is_still_refused(workspace, channel):
    contact_erase(workspace=workspace, contact_id=customer(workspace, channel).id)
    grant_marketing(workspace, [PHONE])  # the old file imported again, opt-in ticked
    contacts = contacts_for_phones(workspace=workspace, phones=[parse_phone(PHONE, region="FR")])
    assert set(contacts) == {PHONE}

    marketing = message_send(workspace=workspace, to=PHONE, body="-20%", purpose="marketing")
    service = message_send(workspace=workspace, to=PHONE, body="Vos lunettes sont prêtes")
    for message in (marketing.message, service.message):
        assert (message.status, message.error_code) == (Status.BLOCKED, "erased")
        assert "erased at the customer's request" in message.error_reason


def test_an_erased_customer_who_texts_stop_still_gets_the_confirmation(workspace, channel):
    contact_erase(workspace=workspace, contact_id=customer(workspace, channel).id)
    customer_texts(channel=channel, sender=PHONE, text="STOP")
    confirmation = Message.objects.get(kind="opt_out_confirmation")
    assert confirmation.status == Status.QUEUED


def _candidate(key, workspace, phone=PHONE, kind="", purpose="marketing"):
    return Candidate(
        key=key,
        scheme="sms",
        number_type="mobile",
        purpose=purpose,
        phone=phone,
        workspace_id=workspace.id,
        kind=kind,
    )


def test_rule_suppressed_refuses_erased_numbers_in_one_query(
    workspace, other_workspace, django_assert_num_queries
):
    Suppression.objects.create(workspace=workspace, phone_hash=phone_hash(workspace, PHONE))
    candidates = [
        _candidate(1, workspace),
        _candidate(2, workspace, purpose="transactional"),
        _candidate(3, other_workspace),  # the same number in another shop
        _candidate(4, workspace, phone="+33687654321"),
        _candidate(5, workspace, kind="help_reply"),  # answers the customer's own text
        _candidate(6, workspace, phone=""),
        Candidate(7, "sms", "mobile", "marketing", phone=PHONE, workspace_id=str(workspace.id)),
    ]
    with django_assert_num_queries(1):
        found = rule_suppressed(candidates)
    assert set(found) == {1, 2, 7}
    assert found[1].code == "erased"
    assert found[1].reason == (
        "This number was erased at the customer's request; it is never messaged again."
    )


def test_rule_suppressed_asks_nothing_without_a_phone(django_assert_num_queries, workspace):
    with django_assert_num_queries(0):
        assert rule_suppressed([_candidate(1, workspace, phone="")]) == {}


def test_rule_suppressed_reads_by_chunks_when_the_list_is_long(workspace, monkeypatch):
    monkeypatch.setattr(gdpr, "SUPPRESSION_READ_ALL", 2)
    others = ["+33687654321", "+33687654322", "+33687654323"]
    for phone in [PHONE, *others]:
        Suppression.objects.create(workspace=workspace, phone_hash=phone_hash(workspace, phone))
    candidates = [_candidate(i, workspace, phone=f"+3361111111{i}") for i in range(8, 10)]
    candidates += [_candidate(i, workspace, phone=p) for i, p in enumerate(others)]
    assert set(rule_suppressed(candidates)) == {0, 1, 2}


def test_erased_numbers_stay_refused_while_the_secret_key_is_rotated(workspace, settings):
    Suppression.objects.create(workspace=workspace, phone_hash=phone_hash(workspace, PHONE))
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "the new key"
    assert rule_suppressed([_candidate(1, workspace)]) == {}  # the fallback is not listed yet
    settings.SECRET_KEY_FALLBACKS = [old]
    assert set(rule_suppressed([_candidate(1, workspace)])) == {1}


# ---------------------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------------------


def _delete(api, path):
    return api.delete(path, HTTP_AUTHORIZATION=f"Bearer {api.key}")


def test_api_export_is_a_zip_attachment(api, workspace, channel):
    contact = customer(workspace, channel)
    response = api.get(f"/api/v1/contacts/{contact.id}/export")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="contact-{contact.id}.zip"'
    files = unzip(response.content)
    assert json.loads(files["contact.json"])["contact"]["phone"] == PHONE
    key = ApiKey.objects.get(workspace=workspace)
    entry = AuditEntry.objects.get(action="contact.exported")
    assert entry.actor_label == f"api key {key.prefix}…"
    assert api.key not in entry.actor_label


def test_api_delete_erases_and_answers_204(api, workspace, channel):
    contact = customer(workspace, channel)
    response = _delete(api, f"/api/v1/contacts/{contact.id}")
    assert response.status_code == 204, response.content
    assert response.content == b""
    assert not Contact.objects.filter(id=contact.id).exists()
    assert Suppression.objects.filter(workspace=workspace).count() == 1
    entry = AuditEntry.objects.get(action="contact.erased")
    assert entry.actor_label.startswith("api key cpt_")
    again = _delete(api, f"/api/v1/contacts/{contact.id}")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", "/export"), ("delete", ""), ("post", "/consent"), ("get", "/consent")],
)
def test_api_another_workspaces_contact_is_404_everywhere(
    api, workspace, other_workspace, method, suffix
):
    theirs = contact_create(workspace=other_workspace, phone=PHONE)
    for contact_id in (theirs.id, uuid.uuid4()):
        path = f"/api/v1/contacts/{contact_id}{suffix}"
        if method == "delete":
            response = _delete(api, path)
        elif method == "post":
            response = api.post(path, {"purpose": "marketing", "action": "granted"})
        else:
            response = api.get(path)
        assert response.status_code == 404, response.content
        assert response.json()["error"] == {
            "code": "not_found",
            "field": "contact_id",
            "message": "No such contact.",
        }
    assert Contact.objects.filter(id=theirs.id).exists()
    assert not ConsentEvent.objects.exists()
    assert not Suppression.objects.exists()


def test_api_a_malformed_id_is_422(api, workspace):
    response = api.get("/api/v1/contacts/not-a-uuid/export")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "contact_id"


def test_api_records_consent_as_a_new_event(api, workspace):
    contact = contact_create(workspace=workspace, phone=PHONE)
    response = api.post(
        f"/api/v1/contacts/{contact.id}/consent",
        {"purpose": "marketing", "action": "granted", "proof": {"form": "newsletter", "ip": "x"}},
    )
    assert response.status_code == 201, response.content
    data = response.json()
    key = ApiKey.objects.get(workspace=workspace)
    assert data["purpose"] == "marketing"
    assert data["action"] == "granted"
    assert data["source"] == "api"
    assert data["channel"] == "sms"
    assert data["proof"] == {"form": "newsletter", "ip": "x"}
    assert data["actor_label"] == f"api key {key.prefix}…"
    assert consent_state([contact.id]) == {(contact.id, "marketing"): "granted"}
    entry = AuditEntry.objects.get(action="consent.recorded")
    assert (entry.target, entry.actor_label) == (str(contact.id), data["actor_label"])

    revoked = api.post(
        f"/api/v1/contacts/{contact.id}/consent", {"purpose": "marketing", "action": "revoked"}
    )
    assert revoked.status_code == 201
    assert ConsentEvent.objects.filter(contact=contact).count() == 2  # history kept
    assert consent_state([contact.id]) == {(contact.id, "marketing"): "revoked"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"purpose": "promo", "action": "granted"}, "purpose"),
        ({"action": "granted"}, "purpose"),
        ({"purpose": "marketing", "action": "maybe"}, "action"),
        ({"purpose": "marketing"}, "action"),
        ({"purpose": "marketing", "action": "granted", "channel": "fax"}, "channel"),
        ({"purpose": "marketing", "action": "granted", "proof": "signed"}, "proof"),
        ({"purpose": "marketing", "action": "granted", "proof": {"t": "x" * 10_001}}, "proof"),
        ({"purpose": "marketing", "action": "granted", "proof": {"t": "a\x00b"}}, "proof"),
    ],
)
def test_api_consent_bad_input_is_422_with_the_field(api, workspace, payload, field):
    contact = contact_create(workspace=workspace, phone=PHONE)
    response = api.post(f"/api/v1/contacts/{contact.id}/consent", payload)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["field"] == field
    assert not ConsentEvent.objects.exists()
    assert not AuditEntry.objects.filter(action="consent.recorded").exists()


def test_api_consent_history_says_who_oldest_first(api, workspace, channel):
    customer_texts(channel=channel, sender=PHONE, text="STOP")
    contact = Contact.objects.get(phone=PHONE)
    api.post(
        f"/api/v1/contacts/{contact.id}/consent", {"purpose": "marketing", "action": "granted"}
    )
    response = api.get(f"/api/v1/contacts/{contact.id}/consent")
    assert response.status_code == 200, response.content
    history = [(e["purpose"], e["action"], e["source"], e["actor_label"]) for e in response.json()]
    key = ApiKey.objects.get(workspace=workspace)
    assert history == [
        ("marketing", "revoked", "keyword", "customer (keyword)"),
        ("service", "revoked", "keyword", "customer (keyword)"),
        ("marketing", "granted", "api", f"api key {key.prefix}…"),
    ]


def test_api_consent_history_costs_the_same_queries_for_a_long_history(api, workspace):
    contact = contact_create(workspace=workspace, phone=PHONE)
    api.get(f"/api/v1/contacts/{contact.id}/consent")  # the key's once-a-minute touch
    counts = []
    for _ in range(2):
        for action in ("granted", "revoked", "granted"):
            consent_record(contact=contact, purposes=["marketing"], action=action, source="form")
        with CaptureQueriesContext(connection) as context:
            assert api.get(f"/api/v1/contacts/{contact.id}/consent").status_code == 200
        counts.append(len(context))
    assert counts[0] == counts[1]


def test_openapi_describes_the_privacy_calls(client, db):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    export = paths["/api/v1/contacts/{contact_id}/export"]["get"]
    assert "application/zip" in export["responses"]["200"]["content"]
    assert "delete" in paths["/api/v1/contacts/{contact_id}"]
    assert {"get", "post"} <= set(paths["/api/v1/contacts/{contact_id}/consent"])
