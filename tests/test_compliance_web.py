"""The privacy pages: a contact's consent, export and erasure; keywords; the sending policy;
the audit log. Owners only, every read scoped to the workspace."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from comptoir.compliance.audit import AuditAction, audit_record
from comptoir.compliance.consent import consent_record, consent_state
from comptoir.compliance.gdpr import phone_hash
from comptoir.compliance.keywords import workspace_keyword_add
from comptoir.compliance.models import (
    AuditEntry,
    ConsentEvent,
    Suppression,
    WorkspaceKeyword,
)
from comptoir.compliance.policy import policy_for_workspace
from comptoir.contacts.models import Contact
from comptoir.contacts.services import contact_create
from comptoir.inbox.models import Conversation
from comptoir.sandbox.carrier import customer_texts
from comptoir.workspaces.models import Role, Workspace
from comptoir.workspaces.services import staff_add

NUMBER = "+33612345678"
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def agent_client(workspace: Workspace) -> Client:
    staff_add(workspace=workspace, username="bob", password="correct horse", role=Role.AGENT)
    client = Client()
    assert client.login(username="bob", password="correct horse")
    return client


@pytest.fixture
def customer(workspace: Workspace) -> Contact:
    return contact_create(workspace=workspace, phone=NUMBER, first_name="Émilie", last_name="Roux")


@pytest.fixture
def stranger(other_workspace: Workspace) -> Contact:
    return contact_create(workspace=other_workspace, phone=NUMBER, first_name="Autre")


def errors_of(response: Any, form: str = "form") -> dict[str, list[str]]:
    bound = response.context[form]
    return {name: list(errors) for name, errors in bound.errors.items()}


def audit(workspace: Workspace, action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(workspace=workspace, action=action).order_by("id"))


# -- who sees what ------------------------------------------------------------------------


def pages(contact: Contact) -> list[str]:
    return [
        reverse("privacy:index"),
        reverse("privacy:contact", args=[contact.id]),
        reverse("privacy:keywords"),
        reverse("privacy:policy"),
        reverse("privacy:audit"),
    ]


def test_every_page_opens_for_an_owner(staff_client, customer):
    for url in pages(customer):
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert b'aria-current="page"' in response.content  # the tabs mark where we are


def test_an_agent_is_refused_everywhere(agent_client, customer, workspace):
    keyword = workspace_keyword_add(workspace=workspace, word="basta", kind="opt_out")
    for url in pages(customer):
        assert agent_client.get(url).status_code == 403, url
    posts = [
        reverse("privacy:consent", args=[customer.id]),
        reverse("privacy:export", args=[customer.id]),
        reverse("privacy:erase", args=[customer.id]),
        reverse("privacy:keyword_delete", args=[keyword.id]),
        reverse("privacy:keywords"),
        reverse("privacy:policy"),
    ]
    for url in posts:
        assert agent_client.post(url, {"confirm": NUMBER, "word": "x"}).status_code == 403, url
    assert Contact.objects.filter(id=customer.id).exists()
    assert WorkspaceKeyword.objects.filter(id=keyword.id).exists()


def test_signed_out_visitors_go_to_the_login_page(client, customer):
    response = client.get(reverse("privacy:contact", args=[customer.id]))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_another_workspaces_contact_is_not_found(staff_client, stranger, other_workspace):
    their_log = AuditEntry.objects.filter(workspace=other_workspace).count()
    assert staff_client.get(reverse("privacy:contact", args=[stranger.id])).status_code == 404
    for name in ("privacy:consent", "privacy:export", "privacy:erase"):
        typed = {"confirm": NUMBER, "purpose": "marketing", "action": "revoked", "note": "x"}
        response = staff_client.post(reverse(name, args=[stranger.id]), typed)
        assert response.status_code == 404, name
    assert Contact.objects.filter(id=stranger.id).exists()
    assert not ConsentEvent.objects.exists()
    assert AuditEntry.objects.filter(workspace=other_workspace).count() == their_log


def test_another_workspaces_keyword_is_not_found(staff_client, other_workspace):
    theirs = workspace_keyword_add(workspace=other_workspace, word="basta", kind="opt_out")
    response = staff_client.post(reverse("privacy:keyword_delete", args=[theirs.id]))
    assert response.status_code == 404
    assert WorkspaceKeyword.objects.filter(id=theirs.id).exists()


def test_the_nav_and_the_inbox_panel_link_here_for_owners_only(
    staff_client, agent_client, workspace, channel
):
    customer_texts(channel=channel, sender=NUMBER, text="Bonjour")
    conversation = Conversation.objects.get(workspace=workspace)
    contact = conversation.contact
    url = reverse("inbox:conversation", args=[conversation.id])
    link = reverse("privacy:contact", args=[contact.id]).encode()
    owner_page = staff_client.get(url)
    assert link in owner_page.content
    assert reverse("privacy:index").encode() in owner_page.content
    agent_page = agent_client.get(url)
    assert agent_page.status_code == 200
    assert link not in agent_page.content
    assert reverse("privacy:index").encode() not in agent_page.content


# -- finding a contact --------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["06 12 34 56 78", "+33612345678", "roux", "ÉMILIE"])
def test_a_contact_is_found_by_number_or_name(staff_client, customer, stranger, typed):
    response = staff_client.get(reverse("privacy:index"), {"q": typed})
    assert [c.id for c in response.context["found"]] == [customer.id]


def test_nothing_found_says_so(staff_client, customer):
    response = staff_client.get(reverse("privacy:index"), {"q": "Durand"})
    assert response.context["found"] == []
    assert b"No customer with this number or name." in response.content


# -- consent ------------------------------------------------------------------------------


def test_the_history_shows_every_event_and_the_state_derived(staff_client, customer):
    consent_record(
        contact=customer,
        purposes=["marketing"],
        action="granted",
        source="import",
        proof={"file": "clients.csv", "row": 12},
    )
    consent_record(
        contact=customer,
        purposes=["marketing", "service"],
        action="revoked",
        source="keyword",
        proof={"text": "STOP svp"},
    )
    response = staff_client.get(reverse("privacy:contact", args=[customer.id]))
    history = response.context["history"]
    assert [(e.purpose, e.action, e.source, e.actor_label) for e in history] == [
        ("marketing", "granted", "import", "import"),
        ("marketing", "revoked", "keyword", "customer (keyword)"),
        ("service", "revoked", "keyword", "customer (keyword)"),
    ]
    assert [s["action"] for s in response.context["current"]] == ["revoked", "revoked"]
    html = response.content.decode()
    assert "clients.csv" in html and "STOP svp" in html and "Keyword by text" in html
    assert "revoked (opted out)" in html


def test_email_consent_is_shown_apart_from_texts_and_calls(staff_client, customer):
    consent_record(contact=customer, purposes=["marketing"], action="revoked", source="keyword")
    consent_record(
        contact=customer, purposes=["marketing"], action="granted", source="form", channel="email"
    )
    response = staff_client.get(reverse("privacy:contact", args=[customer.id]))
    current = {(s["purpose"], s["family"]): s["action"] for s in response.context["current"]}
    assert current == {
        ("Marketing", "texts and calls"): "revoked",
        ("Service", "texts and calls"): "",
        ("Marketing", "email"): "granted",
        ("Service", "email"): "",
    }


def test_staff_record_a_revocation_with_their_note_as_proof(staff_client, customer, workspace):
    url = reverse("privacy:consent", args=[customer.id])
    data = {"purpose": "marketing", "action": "revoked", "channel": "sms", "note": "Asked by phone"}
    response = staff_client.post(url, data)
    assert response.status_code == 302
    [event] = ConsentEvent.objects.filter(contact=customer)
    assert (event.purpose, event.action, event.source, event.channel) == (
        "marketing",
        "revoked",
        "staff",
        "sms",
    )
    assert event.proof == {"note": "Asked by phone"}
    assert event.actor.username == "anne"
    assert consent_state([customer.id])[(customer.id, "marketing")] == "revoked"
    [entry] = audit(workspace, AuditAction.CONSENT_RECORDED)
    assert entry.actor_label == "staff anne"
    assert entry.target == str(customer.id)
    page = staff_client.get(reverse("privacy:contact", args=[customer.id]))
    assert [e.actor_label for e in page.context["history"]] == ["staff anne"]


def test_htmx_gets_the_consent_section_back(staff_client, customer):
    url = reverse("privacy:consent", args=[customer.id])
    data = {"purpose": "service", "action": "granted", "channel": "voice", "note": "Au comptoir"}
    response = staff_client.post(url, data, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<section class="card" id="consent">')
    assert "Au comptoir" in html and "Consent change recorded." in html
    assert "<html" not in html


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"note": ""}, "note"),
        ({"note": "   "}, "note"),
        ({"note": "x" * 1001}, "note"),
        ({"purpose": "newsletter"}, "purpose"),
        ({"action": "maybe"}, "action"),
        ({"channel": "fax"}, "channel"),
    ],
)
def test_a_consent_change_without_proof_or_with_bad_values_is_refused(
    staff_client, customer, data, field
):
    typed = {"purpose": "marketing", "action": "revoked", "channel": "sms", "note": "ok", **data}
    url = reverse("privacy:consent", args=[customer.id])
    response = staff_client.post(url, typed)
    assert response.status_code == 422
    assert list(errors_of(response, "consent_form")) == [field]
    fragment = staff_client.post(url, typed, **HX)
    assert fragment.status_code == 422
    assert f'id="error-{field}"'.encode() in fragment.content
    assert not ConsentEvent.objects.exists()


# -- export and erasure -------------------------------------------------------------------


def test_export_downloads_the_zip_and_is_audited(staff_client, customer, workspace):
    consent_record(contact=customer, purposes=["marketing"], action="granted", source="form")
    response = staff_client.post(reverse("privacy:export", args=[customer.id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="contact-{customer.id}.zip"'
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        data = json.loads(archive.read("contact.json"))
    assert data["contact"]["phone"] == NUMBER
    assert len(data["consent"]) == 1
    [entry] = audit(workspace, AuditAction.CONTACT_EXPORTED)
    assert (entry.actor_label, entry.target) == ("staff anne", str(customer.id))


def test_export_is_a_post_only(staff_client, customer, workspace):
    assert staff_client.get(reverse("privacy:export", args=[customer.id])).status_code == 405
    assert not audit(workspace, AuditAction.CONTACT_EXPORTED)


@pytest.mark.parametrize("typed", ["", "06 12 34 56 79", "Émilie", "erase"])
def test_erasure_needs_the_number_typed_again(staff_client, customer, typed):
    response = staff_client.post(reverse("privacy:erase", args=[customer.id]), {"confirm": typed})
    assert response.status_code == 422
    assert list(errors_of(response, "erase_form")) == ["confirm"]
    assert b'id="error-confirm"' in response.content
    assert Contact.objects.filter(id=customer.id).exists()


def test_erasure_with_the_number_typed_leaves_only_its_hash(staff_client, customer, workspace):
    consent_record(contact=customer, purposes=["marketing"], action="granted", source="form")
    url = reverse("privacy:erase", args=[customer.id])
    response = staff_client.post(url, {"confirm": "06 12 34 56 78"}, follow=True)
    assert response.redirect_chain == [(reverse("privacy:index"), 302)]
    assert "Émilie Roux was erased." in response.content.decode()
    assert not Contact.objects.filter(id=customer.id).exists()
    assert not ConsentEvent.objects.exists()
    hashed = phone_hash(workspace, NUMBER)
    assert Suppression.objects.filter(workspace=workspace, phone_hash=hashed).exists()
    [entry] = audit(workspace, AuditAction.CONTACT_ERASED)
    assert (entry.actor_label, entry.target) == ("staff anne", hashed)
    assert staff_client.get(reverse("privacy:contact", args=[customer.id])).status_code == 404


# -- keywords -----------------------------------------------------------------------------


def test_the_keywords_page_lists_the_built_ins_per_language(staff_client, workspace):
    workspace_keyword_add(workspace=workspace, word="Basta !", kind="opt_out")
    response = staff_client.get(reverse("privacy:keywords"))
    html = response.content.decode()
    builtin = {lang["language"]: lang for lang in response.context["builtin"]}
    assert set(builtin) == {"en", "fr"}
    assert builtin["fr"]["understood"] and builtin["en"]["understood"]
    assert 'id="builtin-fr"' in html and "desabonner" in html and "unsubscribe" in html
    assert [k.word for k in response.context["own"]] == ["basta"]


def test_an_owner_adds_a_keyword_which_then_works(staff_client, workspace, channel):
    response = staff_client.post(
        reverse("privacy:keywords"), {"word": "  Ça suffit !", "kind": "opt_out"}
    )
    assert response.status_code == 302
    [keyword] = WorkspaceKeyword.objects.filter(workspace=workspace)
    assert (keyword.word, keyword.kind) == ("ca suffit", "opt_out")
    [entry] = audit(workspace, AuditAction.KEYWORD_ADDED)
    assert entry.actor_label == "staff anne"
    assert entry.details == {"word": "ca suffit", "kind": "opt_out"}
    customer_texts(channel=channel, sender=NUMBER, text="ÇA SUFFIT.")
    contact = Contact.objects.get(workspace=workspace, phone=NUMBER)
    assert consent_state([contact.id])[(contact.id, "marketing")] == "revoked"


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({"word": ""}, "word", "required"),
        ({"word": "?!…"}, "word", "letters or digits"),
        ({"word": "x" * 41}, "word", "at most 40"),
        ({"word": "stop les promos svp"}, "word", "at most 3 words"),
        ({"word": "Stop", "kind": "opt_in"}, "word", "built-in opt-out keyword"),
        ({"word": "oui", "kind": "help"}, "word", "built-in opt-in keyword (fr)"),
        ({"word": "AIDE", "kind": "help"}, "word", "already a built-in keyword of this shop"),
        ({"word": "basta"}, "word", "already one of this shop's keywords"),
        ({"kind": "block"}, "kind", "valid choice"),
    ],
)
def test_a_bad_keyword_is_refused_on_its_field(staff_client, workspace, data, field, says):
    workspace_keyword_add(workspace=workspace, word="basta", kind="opt_out")
    typed = {"word": "promo stop", "kind": "opt_out", **data}
    response = staff_client.post(reverse("privacy:keywords"), typed)
    assert response.status_code == 422
    errors = errors_of(response)
    assert list(errors) == [field]
    assert says in errors[field][0]
    assert WorkspaceKeyword.objects.filter(workspace=workspace).count() == 1
    assert len(audit(workspace, AuditAction.KEYWORD_ADDED)) == 1  # the fixture's only


def test_an_english_shop_may_add_a_french_built_in_of_the_same_kind(workspace):
    workspace.language = "en"
    workspace.save()
    keyword = workspace_keyword_add(workspace=workspace, word="Arrêt", kind="opt_out")
    assert keyword.word == "arret"


def test_removing_a_keyword_is_audited_and_htmx_gets_the_list(staff_client, workspace):
    kept = workspace_keyword_add(workspace=workspace, word="basta", kind="opt_out")
    gone = workspace_keyword_add(workspace=workspace, word="encore", kind="opt_in")
    response = staff_client.post(reverse("privacy:keyword_delete", args=[gone.id]), **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith('<div id="own-keywords">')
    assert f'id="keyword-{kept.id}"' in html and f'id="keyword-{gone.id}"' not in html
    [entry] = audit(workspace, AuditAction.KEYWORD_REMOVED)
    assert (entry.actor_label, entry.details) == (
        "staff anne",
        {"word": "encore", "kind": "opt_in"},
    )
    plain = staff_client.post(reverse("privacy:keyword_delete", args=[kept.id]))
    assert plain.status_code == 302
    assert not WorkspaceKeyword.objects.exists()
    again = staff_client.post(reverse("privacy:keyword_delete", args=[kept.id]))
    assert again.status_code == 404


# -- sending policy -----------------------------------------------------------------------


def policy_data(response: Any, **changes: Any) -> dict[str, Any]:
    """The policy form as the page shows it, with `changes` typed in (False unticks)."""
    form = response.context["form"]
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form.initial.get(name)
        if name in ("start", "end"):
            value = value.strftime("%H:%M")
        if value is True:
            value = "on"
        if value not in (False, None):
            data[name] = value
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def test_the_policy_in_force_is_shown(staff_client, workspace):
    response = staff_client.get(reverse("privacy:policy"))
    schedule = dict(response.context["schedule"])
    assert schedule["Monday"] == "08:00 - 21:30" and schedule["Saturday"] == "08:00 - 21:30"
    assert schedule["Sunday"] == ""
    html = response.content.decode()
    assert "STOP SMS : STOP" in html
    assert "1 marketing text per customer per 30 days" in html
    assert "1095 days without activity from the customer, then erase" in html
    assert len(response.context["holidays"]) == 3  # the next French public holidays


def test_the_policy_form_saves_only_what_differs_and_is_audited(staff_client, workspace):
    url = reverse("privacy:policy")
    typed = policy_data(
        staff_client.get(url),
        end="20:00",
        days=["0", "1", "2", "3", "4"],
        cap_count="2",
        sender_name=" Optique Test ",
        retention_mode="anonymise",
        timezone="Europe/Brussels",
    )
    response = staff_client.post(url, typed)
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert workspace.policy == {
        "marketing_window": {"days": [0, 1, 2, 3, 4], "end": "20:00"},
        "cap_count": 2,
        "sender_name": "Optique Test",
        "retention_mode": "anonymise",
    }
    assert workspace.timezone == "Europe/Brussels"
    assert policy_for_workspace(workspace).cap_count == 2
    [entry] = audit(workspace, AuditAction.SETTINGS_CHANGED)
    assert entry.target == "sending policy" and entry.actor_label == "staff anne"
    assert entry.details["changed"]["timezone"] == ["Europe/Paris", "Europe/Brussels"]
    assert entry.details["changed"]["policy.cap_count"] == [None, 2]
    page = staff_client.get(url)
    assert dict(page.context["schedule"])["Saturday"] == ""
    assert page.context["overridden"] == [
        "cap_count",
        "marketing_window",
        "retention_mode",
        "sender_name",
    ]
    # The country's values typed back: no override is left; saving again changes nothing.
    back = policy_data(
        page,
        end="21:30",
        days=["0", "1", "2", "3", "4", "5"],
        cap_count="1",
        sender_name="",
        retention_mode="erase",
    )
    assert staff_client.post(url, back).status_code == 302
    workspace.refresh_from_db()
    assert workspace.policy == {}
    staff_client.post(url, back)
    assert len(audit(workspace, AuditAction.SETTINGS_CHANGED)) == 2


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"timezone": "Europe/Parsi"}, "timezone", "is not a time zone"),
        ({"timezone": ""}, "timezone", "required"),
        ({"start": "22:00"}, "end", "must end after it starts"),
        ({"end": "25:00"}, "end", "valid time"),
        ({"days": False}, "days", "at least one"),
        ({"cap_count": "0"}, "cap_count", "greater than or equal to 1"),
        ({"cap_days": "trente"}, "cap_days", "whole number"),
        ({"opt_out_mention": "  "}, "opt_out_mention", "required"),
        ({"retention_mode": "shred"}, "retention_mode", "valid choice"),
        ({"retention_days": "0"}, "retention_days", "greater than or equal to 1"),
    ],
)
def test_a_bad_policy_is_refused_on_its_field(staff_client, workspace, changes, field, says):
    url = reverse("privacy:policy")
    response = staff_client.post(url, policy_data(staff_client.get(url), **changes))
    assert response.status_code == 422
    errors = errors_of(response)
    assert list(errors) == [field]
    assert says in errors[field][0]
    assert f'id="error-{field}"'.encode() in response.content
    workspace.refresh_from_db()
    assert (workspace.policy, workspace.timezone) == ({}, "Europe/Paris")
    assert not audit(workspace, AuditAction.SETTINGS_CHANGED)


# -- audit log ----------------------------------------------------------------------------


def fill_log(workspace: Workspace, count: int) -> None:
    for n in range(count):
        audit_record(
            workspace=workspace,
            action="contact.exported" if n % 2 else "settings.changed",
            actor_label="staff anne" if n % 3 else "api key cpt_ab12…",
            target=f"t{n}",
            details={"n": n},
        )


def test_the_audit_log_is_paginated_newest_first(staff_client, workspace, other_workspace):
    before = AuditEntry.objects.filter(workspace=workspace).count()  # e.g. its channel's
    fill_log(workspace, 60)
    fill_log(other_workspace, 3)
    first = staff_client.get(reverse("privacy:audit"))
    rows = first.context["rows"]
    assert len(rows) == 50
    assert rows[0].target == "t59"
    assert first.context["page"].paginator.count == before + 60
    assert b'rel="next"' in first.content
    second = staff_client.get(reverse("privacy:audit"), {"page": 2})
    assert [r.target for r in second.context["rows"]][:10] == [f"t{n}" for n in range(9, -1, -1)]


def test_the_audit_log_filters_by_action_and_actor(staff_client, workspace, other_workspace):
    before = AuditEntry.objects.filter(workspace=workspace)  # e.g. its channel's
    actions = {*before.values_list("action", flat=True), "contact.exported", "settings.changed"}
    actors = {*before.values_list("actor_label", flat=True), "api key cpt_ab12…", "staff anne"}
    fill_log(workspace, 12)
    audit_record(workspace=other_workspace, action="contact.erased", actor_label="staff zoe")
    url = reverse("privacy:audit")
    page = staff_client.get(url)
    form = page.context["form"]
    assert [c for c, _ in form.fields["action"].choices] == ["", *sorted(actions)]
    assert [c for c, _ in form.fields["actor"].choices] == ["", *sorted(actors)]
    assert "contact.erased" not in actions and "staff zoe" not in actors
    both = staff_client.get(url, {"action": "contact.exported", "actor": "staff anne"})
    expected = [n for n in range(11, -1, -1) if n % 2 and n % 3]
    assert [r.target for r in both.context["rows"]] == [f"t{n}" for n in expected]
    # An action another workspace has is not a choice here: the filter is ignored, as typed.
    foreign = staff_client.get(url, {"action": "contact.erased"})
    assert list(foreign.context["form"].errors) == ["action"]
    assert all(r.workspace_id == workspace.id for r in foreign.context["rows"])
    fragment = staff_client.get(url, {"actor": "staff anne", "page": "2"}, **HX)
    assert fragment.content.decode().startswith('<div id="audit">')


def test_a_consent_entry_links_to_the_contact_while_they_exist(staff_client, customer):
    consent_record(contact=customer, purposes=["marketing"], action="granted", source="form")
    link = reverse("privacy:contact", args=[customer.id]).encode()
    assert link in staff_client.get(reverse("privacy:audit")).content
    staff_client.post(reverse("privacy:erase", args=[customer.id]), {"confirm": NUMBER})
    assert link not in staff_client.get(reverse("privacy:audit")).content


def test_the_audit_log_costs_the_same_queries_for_any_number_of_entries(
    staff_client, workspace, django_assert_max_num_queries
):
    contacts = [
        contact_create(workspace=workspace, phone=f"+3361234560{n}", first_name="C")
        for n in range(5)
    ]
    for contact in contacts:
        consent_record(contact=contact, purposes=["marketing"], action="granted", source="form")
    fill_log(workspace, 40)
    url = reverse("privacy:audit")
    staff_client.get(url)  # session and workspace look-ups warmed the same way each time
    with django_assert_max_num_queries(12) as few:
        staff_client.get(url)
    fill_log(workspace, 60)
    with django_assert_max_num_queries(len(few.captured_queries)):
        staff_client.get(url)


def test_the_privacy_page_costs_the_same_queries_for_a_long_history(
    staff_client, customer, django_assert_max_num_queries
):
    url = reverse("privacy:contact", args=[customer.id])
    consent_record(contact=customer, purposes=["marketing"], action="granted", source="form")
    with django_assert_max_num_queries(12) as few:
        staff_client.get(url)
    for n in range(20):
        action = "revoked" if n % 2 else "granted"
        consent_record(contact=customer, purposes=["marketing"], action=action, source="form")
    with django_assert_max_num_queries(len(few.captured_queries)):
        staff_client.get(url)
