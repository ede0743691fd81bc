"""The segment API and pages: CRUD, the live count, roles, and workspace scoping."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from comptoir.contacts.models import Contact, Purchase
from comptoir.segments.models import Segment
from comptoir.segments.services import segment_create
from comptoir.workspaces.models import Role, Workspace
from comptoir.workspaces.services import api_key_create, staff_add
from tests.conftest import ApiClient

GOLD_NOT_SEEN = {
    "match": "all",
    "conditions": [
        {"kind": "bought", "product_type": "jewellery", "material": "gold"},
        {"kind": "not_bought_since", "months": 12},
    ],
}


class Api(ApiClient):
    """The JSON client, with PUT and DELETE carrying the key too."""

    def put(self, path: str, data: Any = None, **extra: Any) -> Any:  # type: ignore[override]
        return super().put(
            path, json.dumps(data), content_type="application/json", **self._headers(extra)
        )

    def delete(self, path: str, data: Any = "", **extra: Any) -> Any:  # type: ignore[override]
        return super().delete(path, data, **self._headers(extra))


@pytest.fixture
def api(api_key: str) -> Api:
    return Api(api_key)


@pytest.fixture
def other_api(other_workspace: Workspace) -> Api:
    return Api(api_key_create(workspace=other_workspace)[1])


def customer(workspace: Workspace, phone: str, *, gold_on: dt.date | None = None) -> Contact:
    contact = Contact.objects.create(workspace=workspace, phone=phone, first_name=phone[-2:])
    if gold_on:
        Purchase.objects.create(
            workspace=workspace,
            contact=contact,
            purchased_on=gold_on,
            amount=Decimal("250"),
            product_type="jewellery",
            material="gold",
        )
    return contact


@pytest.fixture
def customers(workspace: Workspace, other_workspace: Workspace) -> None:
    long_ago = dt.date.today() - dt.timedelta(days=800)
    customer(workspace, "+33600000101", gold_on=long_ago)
    customer(workspace, "+33600000102", gold_on=long_ago)
    customer(workspace, "+33600000103", gold_on=dt.date.today())
    customer(workspace, "+33600000104")
    # The same kind of customer elsewhere: never counted, never shown here.
    customer(other_workspace, "+33600000109", gold_on=long_ago)


def test_api_crud_and_count(api: Api, customers: None) -> None:
    created = api.post("/api/v1/segments", {"name": "Gold, not seen", "definition": GOLD_NOT_SEEN})
    assert created.status_code == 201, created.json()
    segment = created.json()
    assert segment["definition"] == GOLD_NOT_SEEN
    url = f"/api/v1/segments/{segment['id']}"

    assert api.get(f"{url}/count").json() == {"count": 2}
    assert api.get(url).json()["name"] == "Gold, not seen"
    assert [s["name"] for s in api.get("/api/v1/segments").json()] == ["Gold, not seen"]

    changed = api.put(url, {"definition": [{"kind": "bought", "material": "gold"}]})
    assert changed.status_code == 200, changed.json()
    assert changed.json()["name"] == "Gold, not seen"  # left out: unchanged
    assert api.get(f"{url}/count").json() == {"count": 3}

    preview = api.post("/api/v1/segments/count", {"definition": [{"kind": "bought", "not": True}]})
    assert preview.json() == {"count": 1}

    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert not Segment.objects.exists()


def test_api_errors_name_the_condition(api: Api, workspace: Workspace) -> None:
    bad = {"name": "x", "definition": [{"kind": "prospect"}, {"kind": "not_bought_since"}]}
    answer = api.post("/api/v1/segments", bad)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["field"] == "definition.conditions.1.months"
    assert error["message"].startswith("Condition 2 (not_bought_since), months:")
    assert not Segment.objects.exists()

    segment_create(workspace=workspace, name="Taken", definition=[])
    duplicate = api.post("/api/v1/segments", {"name": "Taken", "definition": []})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["field"] == "name"
    empty_name = api.post("/api/v1/segments", {"name": "  ", "definition": []})
    assert empty_name.json()["error"]["field"] == "name"
    count = api.post("/api/v1/segments/count", {"definition": {"match": "most"}})
    assert count.status_code == 422
    assert count.json()["error"]["field"] == "definition.match"


def test_api_another_workspace_s_segment_is_a_404(
    api: Api, other_api: Api, other_workspace: Workspace, customers: None
) -> None:
    theirs = segment_create(workspace=other_workspace, name="Theirs", definition=GOLD_NOT_SEEN)
    url = f"/api/v1/segments/{theirs.id}"
    assert api.get(url).status_code == 404
    assert api.get(f"{url}/count").status_code == 404
    assert api.put(url, {"name": "Mine now"}).status_code == 404
    assert api.delete(url).status_code == 404
    assert api.get("/api/v1/segments").json() == []
    assert other_api.get(f"{url}/count").json() == {"count": 1}
    Segment.objects.get(id=theirs.id, name="Theirs")


@pytest.fixture
def agent_client(workspace: Workspace) -> Client:
    staff_add(workspace=workspace, username="bob", password="correct horse", role=Role.AGENT)
    client = Client()
    assert client.login(username="bob", password="correct horse")
    return client


def test_owner_builds_a_segment_with_the_live_count(
    staff_client: Client, workspace: Workspace, customers: None
) -> None:
    editor = staff_client.get(reverse("segments:new"))
    assert editor.status_code == 200
    assert b'hx-post="/segments/preview/"' in editor.content

    with CaptureQueriesContext(connection) as queries:
        live = staff_client.post(
            reverse("segments:preview"), {"definition": json.dumps(GOLD_NOT_SEEN)}
        )
    assert live.status_code == 200
    assert b'id="segment-count-value">2<' in live.content
    assert b"+33600000101" in live.content and b"+33600000102" in live.content
    assert b"+33600000103" not in live.content and b"+33600000109" not in live.content
    # Session, user, workspace, then the count and the sample: no query per contact.
    assert len(queries) <= 6

    broken = staff_client.post(
        reverse("segments:preview"), {"definition": '[{"kind": "bought", "material": 3}]'}
    )
    assert b'data-field="conditions.0.material"' in broken.content
    assert b"Condition 1 (bought), material" in broken.content
    not_json = staff_client.post(reverse("segments:preview"), {"definition": "[{"})
    assert b"not valid JSON" in not_json.content

    saved = staff_client.post(
        reverse("segments:new"), {"name": "Gold sleepers", "definition": json.dumps(GOLD_NOT_SEEN)}
    )
    segment = Segment.objects.get(workspace=workspace)
    assert saved.status_code == 302
    assert saved["Location"] == reverse("segments:edit", args=[segment.id])
    page = staff_client.get(saved["Location"])
    assert b"Gold sleepers" in page.content and b'id="segment-count-value">2<' in page.content
    listing = staff_client.get(reverse("segments:list"))
    assert b"Gold sleepers" in listing.content

    refused = staff_client.post(
        reverse("segments:edit", args=[segment.id]),
        {"name": "Gold sleepers", "definition": '{"match": "all", "conditions": [{"kind": 1}]}'},
    )
    assert refused.status_code == 422
    assert b"Condition 1, kind" in refused.content
    segment.refresh_from_db()
    assert segment.definition == GOLD_NOT_SEEN

    gone = staff_client.post(reverse("segments:delete", args=[segment.id]))
    assert gone.status_code == 302
    assert not Segment.objects.exists()


def test_agents_read_but_do_not_change(
    agent_client: Client, workspace: Workspace, customers: None
) -> None:
    segment = segment_create(workspace=workspace, name="Gold", definition=GOLD_NOT_SEEN)
    assert agent_client.get(reverse("segments:list")).status_code == 200
    page = agent_client.get(reverse("segments:edit", args=[segment.id]))
    assert page.status_code == 200
    assert b'id="segment-count-value">2<' in page.content
    assert b"readonly" in page.content
    edit = {"name": "Mine", "definition": "[]"}
    assert agent_client.post(reverse("segments:edit", args=[segment.id]), edit).status_code == 403
    assert agent_client.get(reverse("segments:new")).status_code == 403
    assert agent_client.post(reverse("segments:delete", args=[segment.id])).status_code == 403
    segment.refresh_from_db()
    assert segment.name == "Gold"


def test_pages_of_another_workspace_s_segment_are_404(
    staff_client: Client, other_workspace: Workspace
) -> None:
    theirs = segment_create(workspace=other_workspace, name="Theirs", definition=[])
    assert staff_client.get(reverse("segments:edit", args=[theirs.id])).status_code == 404
    post = {"name": "x", "definition": "[]"}
    assert staff_client.post(reverse("segments:edit", args=[theirs.id]), post).status_code == 404
    assert staff_client.post(reverse("segments:delete", args=[theirs.id])).status_code == 404
    assert b"Theirs" not in staff_client.get(reverse("segments:list")).content
    assert Segment.objects.filter(id=theirs.id).exists()
