"""The waitlist's API and page: openings refused with the field named, entries, the page."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from comptoir.contacts.models import Contact
from comptoir.contacts.services import contact_create
from comptoir.waitlist.models import Offer, Opening
from comptoir.waitlist.services import entry_add
from tests.test_waitlist import PHONES, SLOT, T0, open_slot, reply, waiting


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"starts_at": "2026-11-23T08:00:00+00:00"}, 422, "starts_at"),
        ({"starts_at": "2026-11-23T16:00:00"}, 422, "starts_at"),
        ({"starts_at": "demain"}, 422, "starts_at"),
        ({}, 422, "starts_at"),
        ({"starts_at": SLOT.isoformat(), "mode": "random"}, 422, "mode"),
        ({"starts_at": SLOT.isoformat(), "offer_minutes": 0}, 422, "offer_minutes"),
        ({"starts_at": SLOT.isoformat(), "template": "{prenom}, OUI ?"}, 422, "template"),
        ({"starts_at": SLOT.isoformat(), "template": "Un créneau !"}, 422, "template"),
        ({"appointment_id": "nope"}, 404, "appointment_id"),
    ],
)
def test_bad_openings_are_refused_with_the_field(api, workspace, clock, payload, status, field):
    waiting(workspace)
    response = api.post("/api/v1/openings", payload)
    assert response.status_code == status, response.json()
    assert response.json()["error"]["field"] == field
    assert not Opening.objects.exists()
    assert not Offer.objects.exists()


def test_entries_api(api, workspace, other_workspace):
    created = api.post(
        "/api/v1/waitlist",
        {"contact": {"phone": "06 12 34 00 01", "first_name": "Julie"}, "service": "Lentilles"},
    )
    assert created.status_code == 201
    entry = created.json()
    assert (entry["contact_name"], entry["position"], entry["active"]) == ("Julie", 1, True)
    again = api.post(
        "/api/v1/waitlist", {"contact": {"id": entry["contact_id"]}, "service": "Lentilles"}
    )
    assert again.status_code == 409
    second = api.post("/api/v1/waitlist", {"contact": {"phone": "0612340002"}}).json()
    assert second["position"] == 2
    unknown = api.post(
        "/api/v1/waitlist", {"contact": {"id": "0196aaaa-0000-7000-8000-000000000000"}}
    )
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (404, "contact.id")
    missing = api.post("/api/v1/waitlist", {"service": "x"})
    assert (missing.status_code, missing.json()["error"]["field"]) == (422, "contact")
    listed = api.get("/api/v1/waitlist").json()
    assert [e["id"] for e in listed] == [entry["id"], second["id"]]
    patched = api.generic(
        "PATCH",
        f"/api/v1/waitlist/{entry['id']}",
        '{"active": false}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api.key}",
    )
    assert patched.status_code == 200 and patched.json()["active"] is False
    assert len(api.get("/api/v1/waitlist").json()) == 1
    assert len(api.get("/api/v1/waitlist?active=false").json()) == 1
    gone = api.generic(
        "DELETE", f"/api/v1/waitlist/{second['id']}", HTTP_AUTHORIZATION=f"Bearer {api.key}"
    )
    assert gone.status_code == 204
    assert api.get(f"/api/v1/waitlist/{second['id']}").status_code == 404
    # Another workspace's entries are invisible.
    foreign = contact_create(workspace=other_workspace, phone="0612340003")
    theirs = entry_add(workspace=other_workspace, contact=foreign)
    assert api.get(f"/api/v1/waitlist/{theirs.id}").status_code == 404
    other = api.post("/api/v1/waitlist", {"contact": {"id": str(foreign.id)}})
    assert other.status_code == 404


def test_openings_api_lists_with_a_fixed_number_of_queries(
    api, workspace, clock, django_assert_max_num_queries
):
    waiting(workspace)
    for hours in (1, 2, 3):
        open_slot(api, mode="all_at_once", starts_at=(SLOT + dt.timedelta(hours=hours)).isoformat())
    with django_assert_max_num_queries(6):
        listed = api.get("/api/v1/openings").json()
    assert [len(o["offers"]) for o in listed] == [3, 3, 3]
    one = api.get(f"/api/v1/openings/{listed[0]['id']}").json()
    assert one["offers"][0]["body"].startswith("Optique Test : Alice")
    assert api.get("/api/v1/openings/0196aaaa-0000-7000-8000-000000000000").status_code == 404


def test_the_page_lists_adds_opens_and_shows_the_winner(staff_client, workspace, channel, clock):
    page = staff_client.get("/waitlist/")
    assert page.status_code == 200
    assert b'href="/waitlist/"' in page.content  # the nav link
    added = staff_client.post(
        "/waitlist/entries/new", {"phone": "06 12 34 00 01", "first_name": "Alice"}
    )
    assert added.status_code == 302
    assert "Alice" in staff_client.get("/waitlist/").content.decode()
    bad = staff_client.post(
        "/waitlist/openings/new", {"starts_at": "2026-11-22T10:00"}, follow=True
    )
    assert "in the past" in bad.content.decode()
    assert not Opening.objects.exists()
    opened = staff_client.post(
        "/waitlist/openings/new",
        {"starts_at": "2026-11-23T16:00", "mode": "in_order", "offer_minutes": "10"},
    )
    opening = Opening.objects.get()
    assert opening.starts_at == SLOT  # read in the shop's time zone
    assert opened.status_code == 302 and opened["Location"] == f"/waitlist/openings/{opening.id}/"
    reply(channel, PHONES[0], "OUI")
    detail = staff_client.get(opened["Location"]).content.decode()
    assert "Winner" in detail and "Alice" in detail and "Won" in detail


def test_agents_see_the_page_too(client, workspace):
    from comptoir.workspaces.models import Role
    from comptoir.workspaces.services import staff_add

    staff_add(workspace=workspace, username="bea", password="correct horse", role=Role.AGENT)
    assert client.login(username="bea", password="correct horse")
    assert client.get("/waitlist/").status_code == 200
    assert Contact.objects.count() == 0
