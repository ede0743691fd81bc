"""POST/GET /api/v1/contacts: normalisation, bad input, duplicates, scoping."""

from __future__ import annotations

import uuid

import pytest

from comptoir.contacts.models import Contact, Tag
from comptoir.contacts.services import contact_create


def test_create_contact_normalises_a_national_number(api, workspace):
    response = api.post(
        "/api/v1/contacts",
        {
            "phone": "06 12 34 56 78",
            "first_name": " Camille ",
            "last_name": "Martin",
            "email": "camille@example.fr",
            "language": "FR",
            "timezone": "Europe/Paris",
            "birthday": "1984-02-29",
            "attributes": {"fidelity_card": "OL10001"},
            "tags": ["VIP", "myope", "VIP", " "],
        },
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["phone"] == "+33612345678"
    assert data["number_type"] == "mobile"
    assert data["first_name"] == "Camille"
    assert data["language"] == "fr"
    assert data["birthday"] == "1984-02-29"
    assert data["attributes"] == {"fidelity_card": "OL10001"}
    assert data["tags"] == ["VIP", "myope"]
    assert data["is_prospect"] is False
    contact = Contact.objects.get(id=data["id"])
    assert contact.workspace == workspace
    assert contact.phone == "+33612345678"


@pytest.mark.parametrize(
    ("phone", "e164", "number_type"),
    [
        ("01 99 00 12 34", "+33199001234", "fixed_line"),
        ("+1 212 555 0123", "+12125550123", "fixed_or_mobile"),
        ("+33 7 81 23 45 67", "+33781234567", "mobile"),
    ],
)
def test_create_contact_records_e164_and_number_type(api, phone, e164, number_type):
    response = api.post("/api/v1/contacts", {"phone": phone})
    assert response.status_code == 201, response.content
    assert (response.json()["phone"], response.json()["number_type"]) == (e164, number_type)


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        ({"phone": "0612"}, "phone", "not a valid number"),
        ({"phone": "abc"}, "phone", "no digits"),
        ({"phone": "AMAZON"}, "phone", "no digits"),
        ({"phone": ""}, "phone", "required"),
        ({"phone": "   "}, "phone", "required"),
        ({"first_name": "Léa"}, "phone", "required"),  # phone missing altogether
        ({"phone": 33612345678}, "phone", "string"),
        ({"phone": "06 12 34 56 78", "email": "pas-un-email"}, "email", "email"),
        ({"phone": "06 12 34 56 78", "timezone": "Europe/Lyon"}, "timezone", "time zone"),
        ({"phone": "06 12 34 56 78", "birthday": "1984-02-30"}, "birthday", "date"),
        ({"phone": "06 12 34 56 78", "tags": "VIP"}, "tags", "list"),
    ],
)
def test_create_contact_bad_input_is_422_with_field_and_reason(api, payload, field, reason):
    response = api.post("/api/v1/contacts", payload)
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["field"] == field
    assert reason in error["message"].lower()
    assert not Contact.objects.exists()
    assert not Tag.objects.exists()


@pytest.mark.parametrize("again", ["06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678"])
def test_duplicate_contact_is_409_with_existing_id(api, again):
    first = api.post("/api/v1/contacts", {"phone": "06 12 34 56 78", "first_name": "Léa"})
    assert first.status_code == 201
    response = api.post(
        "/api/v1/contacts", {"phone": again, "first_name": "Autre", "tags": ["nouveau"]}
    )
    assert response.status_code == 409, response.content
    data = response.json()
    assert data["error"]["code"] == "duplicate_contact"
    assert data["error"]["field"] == "phone"
    assert data["existing_id"] == first.json()["id"]
    assert Contact.objects.count() == 1
    assert Contact.objects.get().first_name == "Léa"
    assert not Tag.objects.exists()


def test_same_number_in_two_workspaces_is_two_contacts(api, workspace, other_workspace):
    other = contact_create(workspace=other_workspace, phone="06 12 34 56 78")
    response = api.post("/api/v1/contacts", {"phone": "06 12 34 56 78"})
    assert response.status_code == 201, response.content
    assert response.json()["id"] != str(other.id)
    assert Contact.objects.filter(phone="+33612345678").count() == 2


def test_tags_are_per_workspace(api, workspace, other_workspace):
    contact_create(workspace=other_workspace, phone="06 12 34 56 79", tags=["VIP"])
    response = api.post("/api/v1/contacts", {"phone": "06 12 34 56 78", "tags": ["VIP"]})
    assert response.status_code == 201
    contact = Contact.objects.get(id=response.json()["id"])
    assert [t.workspace_id for t in contact.tags.all()] == [workspace.id]


def test_find_contact_by_phone_in_any_format(api, workspace, other_workspace):
    contact = contact_create(workspace=workspace, phone="+33612345678", first_name="Léa")
    contact_create(workspace=workspace, phone="06 12 34 56 79")
    contact_create(workspace=other_workspace, phone="06 12 34 56 78")
    for query in ("06 12 34 56 78", "+33612345678", "+33 6 12 34 56 78"):
        response = api.get("/api/v1/contacts", {"phone": query})
        assert response.status_code == 200, response.content
        assert [c["id"] for c in response.json()] == [str(contact.id)]


def test_find_contact_by_phone_url_encoded(api, workspace):
    contact = contact_create(workspace=workspace, phone="06 12 34 56 78")
    response = api.get("/api/v1/contacts?phone=06%2012%2034%2056%2078")
    assert [c["id"] for c in response.json()] == [str(contact.id)]
    response = api.get("/api/v1/contacts?phone=%2B33612345678")
    assert [c["id"] for c in response.json()] == [str(contact.id)]


def test_find_contact_unknown_number_is_an_empty_list(api, workspace):
    contact_create(workspace=workspace, phone="06 12 34 56 78")
    response = api.get("/api/v1/contacts", {"phone": "06 99 99 99 99"})
    assert response.status_code == 200
    assert response.json() == []


def test_find_contact_with_an_invalid_number_is_422(api):
    response = api.get("/api/v1/contacts", {"phone": "abc"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "phone"


def test_list_contacts_only_this_workspace(api, workspace, other_workspace):
    mine = {
        str(contact_create(workspace=workspace, phone=f"06 12 34 56 7{i}").id) for i in range(3)
    }
    contact_create(workspace=other_workspace, phone="06 12 34 56 70")
    response = api.get("/api/v1/contacts")
    assert response.status_code == 200
    assert {c["id"] for c in response.json()} == mine
    assert len(api.get("/api/v1/contacts", {"limit": 2}).json()) == 2
    assert api.get("/api/v1/contacts", {"limit": 0}).status_code == 422


def test_list_contacts_query_count_does_not_grow(api, workspace, django_assert_max_num_queries):
    for i in range(10):
        contact_create(workspace=workspace, phone=f"06 12 34 56 {i:02d}", tags=["VIP", f"t{i}"])
    # auth, touch of last_used_at, contacts, their tags: not one query per contact
    with django_assert_max_num_queries(4):
        response = api.get("/api/v1/contacts")
    assert len(response.json()) == 10
    assert all(len(c["tags"]) == 2 for c in response.json())


def test_get_contact(api, workspace):
    contact = contact_create(workspace=workspace, phone="06 12 34 56 78", tags=["VIP"])
    response = api.get(f"/api/v1/contacts/{contact.id}")
    assert response.status_code == 200
    assert response.json()["phone"] == "+33612345678"
    assert response.json()["tags"] == ["VIP"]


def test_get_contact_of_another_workspace_is_404(api, other_workspace):
    contact = contact_create(workspace=other_workspace, phone="06 12 34 56 78")
    response = api.get(f"/api/v1/contacts/{contact.id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert api.get(f"/api/v1/contacts/{uuid.uuid4()}").status_code == 404


def test_contacts_need_a_key(client, workspace):
    assert client.get("/api/v1/contacts").status_code == 401
    response = client.post(
        "/api/v1/contacts", {"phone": "06 12 34 56 78"}, content_type="application/json"
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"first_name": "L" * 101}, "first_name"),
        ({"last_name": "M" * 101}, "last_name"),
        ({"email": "a" * 64 + "@" + ("b" * 60 + ".") * 4 + "fr"}, "email"),
        ({"language": "français-de-france"}, "language"),
        ({"tags": ["t" * 65]}, "tags.0"),
        ({"first_name": "Lé\x00a"}, "first_name"),
        ({"tags": ["VIP", "a\x00"]}, "tags"),
        ({"attributes": {"note": "a\x00b"}}, "attributes"),
    ],
)
def test_create_contact_too_long_or_unstorable_is_422(api, payload, field):
    response = api.post("/api/v1/contacts", {"phone": "06 12 34 56 78", **payload})
    assert response.status_code == 422, response.content
    assert response.json()["error"]["field"] == field
    assert not Contact.objects.exists()
    assert not Tag.objects.exists()
