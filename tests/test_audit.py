"""The audit log: append-only entries saying who did what to whom, and when."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from comptoir.compliance.audit import AuditAction, audit_record
from comptoir.compliance.consent import consent_record
from comptoir.compliance.models import AuditEntry, ConsentEvent
from comptoir.contacts.models import Contact
from comptoir.sandbox.carrier import customer_texts


def _contact(workspace, phone="+33612345678"):
    return Contact.objects.create(workspace=workspace, phone=phone, number_type="mobile")


def test_an_entry_records_who_what_and_when(workspace):
    user = get_user_model().objects.create_user(username="anne", password="x")
    entry = audit_record(
        workspace=workspace,
        action=AuditAction.SETTINGS_CHANGED,
        actor=user,
        target="sending window",
        details={"from": "08:00", "to": "09:00"},
    )
    entry = AuditEntry.objects.get(id=entry.id)
    assert (entry.workspace_id, entry.actor_id, entry.action) == (
        workspace.id,
        user.id,
        "settings.changed",
    )
    assert entry.actor_label == "staff anne"
    assert entry.details == {"from": "08:00", "to": "09:00"}
    assert entry.at is not None


def test_without_an_actor_the_label_says_system_unless_told(workspace):
    assert audit_record(workspace=workspace, action="x").actor_label == "system"
    told = audit_record(workspace=workspace.id, action="x", actor_label="api key cpt_ab12…")
    assert told.actor_label == "api key cpt_ab12…"


def test_entries_are_append_only(workspace):
    entry = AuditEntry.objects.get(id=audit_record(workspace=workspace, action="x").id)
    entry.action = "y"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        AuditEntry.objects.filter(id=entry.id).update(action="y")
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()
    with pytest.raises(ValueError, match="append-only"):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(id=entry.id).action == "x"


def test_deleting_a_staff_user_keeps_their_entries_and_their_name(workspace):
    user = get_user_model().objects.create_user(username="anne", password="x")
    entry = audit_record(workspace=workspace, action="keyword.added", actor=user)
    user.delete()
    entry = AuditEntry.objects.get(id=entry.id)
    assert (entry.actor_id, entry.actor_label) == (None, "staff anne")


def test_entries_are_read_per_workspace(workspace, other_workspace):
    audit_record(workspace=workspace, action="x")
    audit_record(workspace=other_workspace, action="y")
    entries = AuditEntry.objects.for_workspace(workspace).filter(action__in=["x", "y"])
    assert [e.action for e in entries] == ["x"]


def test_recording_consent_writes_one_entry_per_call(workspace):
    contact = _contact(workspace)
    events = consent_record(
        contact=contact,
        purposes=["marketing", "service"],
        action="granted",
        source="import",
        proof={"file": "caisse.csv", "row": 12},
    )
    entry = AuditEntry.objects.get(action="consent.recorded")
    assert entry.target == str(contact.id)
    assert entry.actor_label == "import"
    assert entry.details == {
        "events": [e.id for e in events],
        "purposes": ["marketing", "service"],
        "action": "granted",
        "source": "import",
        "channel": "sms",
    }


def test_consent_by_staff_and_by_api_key_name_who(workspace):
    contact = _contact(workspace)
    user = get_user_model().objects.create_user(username="anne", password="x")
    consent_record(
        contact=contact, purposes=["marketing"], action="granted", source="staff", actor=user
    )
    consent_record(
        contact=contact,
        purposes=["marketing"],
        action="revoked",
        source="api",
        actor_label="api key cpt_ab12cd…",
    )
    consent = AuditEntry.objects.filter(action="consent.recorded").order_by("id")
    labels = list(consent.values_list("actor_label", flat=True))
    assert labels == ["staff anne", "api key cpt_ab12cd…"]


def test_a_stop_by_text_is_logged_without_the_customers_words(workspace, channel):
    customer_texts(channel=channel, sender="+33612345678", text="STOP merci Paul")
    entry = AuditEntry.objects.get(action="consent.recorded")
    assert entry.actor_label == "customer (keyword)"
    assert entry.details["action"] == "revoked"
    assert "Paul" not in str(list(AuditEntry.objects.values()))
    # The proof stays on the event itself.
    assert ConsentEvent.objects.filter(proof__text="STOP merci Paul").count() == 2


def test_changing_a_workspace_in_the_admin_is_audited(workspace, admin_client):
    from comptoir.compliance.models import AuditEntry

    response = admin_client.post(
        f"/admin/workspaces/workspace/{workspace.id}/change/",
        {
            "name": workspace.name,
            "region": "FR",
            "timezone": "Europe/Paris",
            "language": "fr",
            "policy": '{"cap_count": 2}',
        },
    )
    assert response.status_code == 302, response.content[:2000]
    entry = AuditEntry.objects.get(workspace=workspace, action="settings.changed")
    assert entry.details["changed"] == ["policy"]
    assert entry.actor_label.startswith("staff ")


def test_a_bad_policy_is_refused_in_the_admin_with_the_field(workspace, admin_client):
    response = admin_client.post(
        f"/admin/workspaces/workspace/{workspace.id}/change/",
        {
            "name": workspace.name,
            "region": "FR",
            "timezone": "Europe/Paris",
            "language": "fr",
            "policy": '{"marketing_window": {"start": "25:00"}}',
        },
    )
    assert response.status_code == 200
    assert b"policy.marketing_window.start" in response.content
