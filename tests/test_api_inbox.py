"""The inbox and webhook endpoints of the REST API."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import time_machine

from comptoir.inbox.models import Conversation, ConversationEvent, EventKind
from comptoir.inbox.services import conversation_assign, prospect_promote
from comptoir.messaging.models import Direction, Message, Status
from comptoir.sandbox.carrier import customer_calls, customer_texts
from comptoir.webhooks.models import WebhookDelivery, WebhookEndpoint
from comptoir.webhooks.services import endpoint_secret, webhook_endpoint_create
from comptoir.workspaces.services import api_key_create, staff_add
from tests.conftest import ApiClient

PARIS_OPEN = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # Monday 11:00 in Paris


def _conversation(workspace, phone):
    return Conversation.objects.get(workspace=workspace, contact__phone=phone)


class Api(ApiClient):
    """The JSON client, with DELETE carrying the key too."""

    def delete(self, path, data="", **extra):  # type: ignore[override]
        return super().delete(path, data, **self._headers(extra))


@pytest.fixture
def api(api_key):
    return Api(api_key)


@pytest.fixture
def other_api(other_workspace):
    return Api(api_key_create(workspace=other_workspace)[1])


@pytest.fixture
def foreign(other_workspace):
    """A conversation in another workspace: never visible with this workspace's key."""
    from comptoir.channels.models import Channel

    channel = Channel.objects.get(workspace=other_workspace)
    customer_texts(channel=channel, sender="+33699999999", text="Ailleurs")
    return Conversation.objects.get(workspace=other_workspace)


# ---- listing -------------------------------------------------------------------------


def test_list_is_by_score_with_the_reasons(api, workspace, channel):
    with time_machine.travel(PARIS_OPEN, tick=False) as clock:
        customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
        clock.shift(dt.timedelta(minutes=1))
        customer_texts(channel=channel, sender="+33622222222", text="C'est URGENT, cassées")
        clock.shift(dt.timedelta(minutes=20))
        response = api.get("/api/v1/conversations")
    assert response.status_code == 200, response.content
    first, second = response.json()["items"]
    assert first["contact"]["phone"] == "+33622222222"
    # 40 (urgent) + 5 (one unanswered) + 10 (20 minutes waiting)
    assert first["score"] == 55
    assert [r["points"] for r in first["score_reasons"]] == [40, 5, 10]
    assert "urgent" in first["score_reasons"][0]["label"]
    assert second["score"] == 5 + 10  # one unanswered, 21 minutes
    assert first["contact"] == {
        "id": first["contact"]["id"],
        "phone": "+33622222222",
        "name": "",
        "is_prospect": True,
        "tags": [],
    }
    assert (first["status"], first["unread"], first["unanswered"]) == ("open", 1, 1)
    assert first["assignee"] is None and first["team"] is None
    assert response.json()["next_offset"] is None


def test_list_filters_by_view_status_and_assignee(api, workspace, channel):
    anne = staff_add(workspace=workspace, username="anne", password="x")
    for phone in ("+33611111111", "+33622222222", "+33633333333"):
        customer_texts(channel=channel, sender=phone, text="Bonjour")
    known = _conversation(workspace, "+33611111111")
    prospect_promote(conversation=known, first_name="Marie")
    mine = _conversation(workspace, "+33622222222")
    conversation_assign(conversation=mine, assignee=anne)
    closed = _conversation(workspace, "+33633333333")
    api.post(f"/api/v1/conversations/{closed.id}/status", {"status": "closed"})

    def ids(**query):
        response = api.get("/api/v1/conversations", query)
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()["items"]}

    assert ids() == {str(known.id), str(mine.id)}  # closed ones only when asked
    assert ids(view="unassigned") == {str(known.id)}
    assert ids(view="prospects") == {str(mine.id)}
    assert ids(status="closed") == {str(closed.id)}
    assert ids(assignee=anne.id) == {str(mine.id)}
    assert ids(assignee=anne.id + 1000) == set()


def test_list_pages_with_offset_without_repeats(api, workspace, channel):
    for i in range(5):
        customer_texts(channel=channel, sender=f"+3361111110{i}", text="Bonjour")
    seen, offset = [], 0
    while offset is not None:
        page = api.get("/api/v1/conversations", {"limit": 2, "offset": offset}).json()
        seen += [item["id"] for item in page["items"]]
        offset = page["next_offset"]
    assert len(seen) == 5 and len(set(seen)) == 5


def test_list_query_count_does_not_grow_with_rows(
    api, workspace, channel, django_assert_num_queries
):
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    api.get("/api/v1/conversations")  # the key's last use is written once a minute at most
    # the key, the page, the contacts' tags
    with django_assert_num_queries(3):
        assert len(api.get("/api/v1/conversations").json()["items"]) == 1
    for i in range(10):
        customer_texts(channel=channel, sender=f"+3362222220{i}", text="Bonjour")
    with django_assert_num_queries(3):
        assert len(api.get("/api/v1/conversations").json()["items"]) == 11


def test_a_thread_query_count_does_not_grow_with_items(
    api, workspace, channel, django_assert_num_queries
):
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    conversation = _conversation(workspace, "+33611111111")
    url = f"/api/v1/conversations/{conversation.id}"
    api.get(url)
    # the key, the conversation, its contact's tags, the messages, the events
    with django_assert_num_queries(5):
        assert len(api.get(url).json()["thread"]) == 1
    for i in range(5):
        customer_texts(channel=channel, sender="+33611111111", text=f"Encore {i}")
        api.post(f"{url}/notes", {"body": f"note {i}"})
    with django_assert_num_queries(5):
        assert len(api.get(url).json()["thread"]) == 11


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"view": "mine"}, "view"),
        ({"status": "archived"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 500}, "limit"),
        ({"offset": -1}, "offset"),
        ({"assignee": "anne"}, "assignee"),
    ],
)
def test_list_bad_input_names_the_field(api, query, field):
    response = api.get("/api/v1/conversations", query)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def test_the_api_needs_a_key(workspace):
    response = ApiClient(None).get("/api/v1/conversations")
    assert response.status_code == 401
    assert ApiClient("cpt_nope").get("/api/v1/webhooks").status_code == 401


# ---- one conversation ----------------------------------------------------------------


def test_get_a_conversation_with_messages_notes_and_calls(api, workspace, channel):
    with time_machine.travel(PARIS_OPEN, tick=False) as clock:
        customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
        conversation = _conversation(workspace, "+33611111111")
        clock.shift(dt.timedelta(seconds=1))
        api.post(f"/api/v1/conversations/{conversation.id}/reply", {"body": "Bonjour !"})
        clock.shift(dt.timedelta(seconds=1))
        api.post(f"/api/v1/conversations/{conversation.id}/notes", {"body": "Client fidèle"})
        clock.shift(dt.timedelta(seconds=1))
        customer_calls(channel=channel, caller="+33611111111", outcome="no-answer")
        response = api.get(f"/api/v1/conversations/{conversation.id}")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["id"] == str(conversation.id) and data["status"] == "open"
    items = [
        (i["type"], (i["message"] or {}).get("direction"), (i["event"] or {}).get("kind"))
        for i in data["thread"]
    ]
    assert items == [
        ("message", "in", None),
        ("message", "out", None),
        ("event", None, "note"),
        ("event", None, "call_missed"),
        ("message", "out", None),  # the missed call's text-back
    ]
    reply = data["thread"][1]["message"]
    assert (reply["body"], reply["status"], reply["error_code"]) == ("Bonjour !", "queued", "")
    assert data["thread"][2]["event"]["body"] == "Client fidèle"
    assert data["thread"][3]["event"]["data"]["textback"] == "sent"
    # `after` and `limit` narrow the thread.
    after = data["thread"][2]["at"]
    later = api.get(f"/api/v1/conversations/{conversation.id}", {"after": after}).json()
    assert [i["type"] for i in later["thread"]] == ["event", "message"]
    last = api.get(f"/api/v1/conversations/{conversation.id}", {"limit": 1}).json()
    assert len(last["thread"]) == 1


def test_a_blocked_message_shows_its_reason_in_the_thread(api, workspace, channel):
    customer_texts(channel=channel, sender="+33611111111", text="STOP")
    conversation = _conversation(workspace, "+33611111111")
    response = api.post(f"/api/v1/conversations/{conversation.id}/reply", {"body": "Vraiment ?"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("reply_refused", "body")
    assert "opted out" in error["message"]
    thread = api.get(f"/api/v1/conversations/{conversation.id}").json()["thread"]
    blocked = [i["message"] for i in thread if i["message"] and i["message"]["status"] == "blocked"]
    assert blocked[0]["error_code"] == "opted_out"


def test_every_conversation_endpoint_is_404_for_another_workspace(api, foreign):
    base = f"/api/v1/conversations/{foreign.id}"
    calls = [
        api.get(base),
        api.post(f"{base}/reply", {"body": "Hello"}),
        api.post(f"{base}/assign", {"assignee": None}),
        api.post(f"{base}/status", {"status": "closed"}),
        api.post(f"{base}/notes", {"body": "Hello"}),
        api.get(f"/api/v1/conversations/{uuid.uuid4()}"),
    ]
    for response in calls:
        assert response.status_code == 404, response.content
        assert response.json()["error"] == {
            "code": "not_found",
            "field": "conversation_id",
            "message": "No such conversation.",
        }
    foreign.refresh_from_db()
    assert foreign.status == "open"
    assert not ConversationEvent.objects.filter(conversation=foreign).exists()
    assert not Message.objects.filter(workspace=foreign.workspace, direction=Direction.OUT).exists()


def test_a_malformed_id_names_the_field(api):
    response = api.get("/api/v1/conversations/not-a-uuid")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "conversation_id"


# ---- reply, assign, status, notes ----------------------------------------------------


def test_reply_is_queued_once_per_idempotency_key(api, workspace, channel):
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    conversation = _conversation(workspace, "+33611111111")
    url = f"/api/v1/conversations/{conversation.id}/reply"
    first = api.post(url, {"body": "Vos lunettes sont prêtes", "idempotency_key": "r-1"})
    again = api.post(url, {"body": "Vos lunettes sont prêtes", "idempotency_key": "r-1"})
    assert first.status_code == again.status_code == 202, first.content
    assert first.json()["id"] == again.json()["id"]
    assert (first.json()["to"], first.json()["status"]) == ("+33611111111", Status.QUEUED)
    assert Message.objects.filter(direction=Direction.OUT).count() == 1
    conflict = api.post(url, {"body": "Autre chose", "idempotency_key": "r-1"})
    assert conflict.status_code == 409
    conversation.refresh_from_db()
    assert (conversation.status, conversation.unanswered) == ("waiting", 0)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "x" * 2000}, "body"),
        ({"body": "a\x00b"}, "body"),
        ({"body": "ok", "idempotency_key": "k" * 101}, "idempotency_key"),
    ],
)
def test_reply_bad_input_names_the_field(api, workspace, channel, payload, field):
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    conversation = _conversation(workspace, "+33611111111")
    response = api.post(f"/api/v1/conversations/{conversation.id}/reply", payload)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["field"] == field
    assert not Message.objects.filter(direction=Direction.OUT).exists()


def test_a_sender_name_cannot_be_answered(api, workspace, channel):
    customer_texts(channel=channel, sender="AMAZON", text="Votre colis")
    conversation = Conversation.objects.get(workspace=workspace, sender="AMAZON")
    response = api.post(f"/api/v1/conversations/{conversation.id}/reply", {"body": "Merci"})
    assert response.status_code == 422
    assert "AMAZON" in response.json()["error"]["message"]


def test_assign_to_a_staff_member_then_to_nobody(api, workspace, other_workspace, channel):
    anne = staff_add(workspace=workspace, username="anne", password="x")
    stranger = staff_add(workspace=other_workspace, username="zoe", password="x")
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    conversation = _conversation(workspace, "+33611111111")
    url = f"/api/v1/conversations/{conversation.id}/assign"
    response = api.post(url, {"assignee": anne.id})
    assert response.status_code == 200, response.content
    assert response.json()["assignee"] == {"id": anne.id, "username": "anne"}
    refused = api.post(url, {"assignee": stranger.id})
    assert refused.status_code == 404
    assert refused.json()["error"]["field"] == "assignee"
    assert api.post(url, {"assignee": "anne"}).json()["error"]["field"] == "assignee"
    assert api.post(url, {}).json()["error"]["field"] == "assignee"
    conversation.refresh_from_db()
    assert conversation.assignee_id == anne.id
    assert api.post(url, {"assignee": None}).json()["assignee"] is None
    kinds = ConversationEvent.objects.filter(conversation=conversation).values_list("kind", "data")
    assert list(kinds) == [
        (EventKind.ASSIGNED, {"assignee": "anne"}),
        ("assigned", {"assignee": ""}),
    ]


def test_status_changes_and_bad_status(api, workspace, channel):
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    conversation = _conversation(workspace, "+33611111111")
    url = f"/api/v1/conversations/{conversation.id}/status"
    closed = api.post(url, {"status": "closed"})
    assert closed.status_code == 200, closed.content
    assert (closed.json()["status"], closed.json()["unanswered"]) == ("closed", 0)
    bad = api.post(url, {"status": "archived"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "status"
    assert api.post(url, {"status": "open"}).json()["status"] == "open"
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_notes_are_kept_and_never_sent(api, workspace, channel):
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    conversation = _conversation(workspace, "+33611111111")
    url = f"/api/v1/conversations/{conversation.id}/notes"
    response = api.post(url, {"body": "  Rappeler jeudi  "})
    assert response.status_code == 201, response.content
    assert (response.json()["kind"], response.json()["body"]) == ("note", "Rappeler jeudi")
    assert api.post(url, {"body": " "}).json()["error"]["field"] == "body"
    assert api.post(url, {"body": "x" * 10_001}).json()["error"]["field"] == "body"
    assert api.post(url, {}).json()["error"]["field"] == "body"
    assert ConversationEvent.objects.filter(kind=EventKind.NOTE).count() == 1
    assert not Message.objects.filter(direction=Direction.OUT).exists()


# ---- webhook endpoints ---------------------------------------------------------------


def test_a_webhook_is_created_with_its_secret_shown_once(api, workspace):
    response = api.post(
        "/api/v1/webhooks",
        {"url": "https://crm.example.com/comptoir", "events": ["message.received"]},
    )
    assert response.status_code == 201, response.content
    created = response.json()
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    endpoint = WebhookEndpoint.objects.get(id=created["id"])
    assert endpoint_secret(endpoint) == secret
    assert secret not in endpoint.secret  # encrypted at rest
    listed = api.get("/api/v1/webhooks")
    assert listed.status_code == 200
    assert listed.json() == [{k: v for k, v in created.items() if k != "secret"}]
    assert secret not in listed.content.decode()


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"url": "ftp://example.com/x", "events": ["*"]}, "url", "https://"),
        ({"url": "example.com/x", "events": ["*"]}, "url", "https://"),
        ({"url": "https:///path", "events": ["*"]}, "url", "host"),
        ({"url": "https://u:p@example.com/", "events": ["*"]}, "url", "password"),
        ({"url": "https://exa mple.com/", "events": ["*"]}, "url", "spaces"),
        ({"url": "https://example.com:99999/", "events": ["*"]}, "url", "port"),
        ({"url": "https://example.com/" + "a" * 2000, "events": ["*"]}, "url", "2000"),
        ({"url": "https://example.com/", "events": []}, "events", "at least one"),
        ({"url": "https://example.com/", "events": ["mesage.received"]}, "events.0", "Unknown"),
        ({"url": "https://example.com/", "events": ["*", "nope.*"]}, "events.1", "Unknown"),
        ({"events": ["*"]}, "url", ""),
        ({"url": "https://example.com/", "events": "*"}, "events", ""),
    ],
)
def test_a_bad_webhook_is_refused_naming_the_field(api, payload, field, words):
    response = api.post("/api/v1/webhooks", payload)
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["field"] == field
    assert words in error["message"]
    assert not WebhookEndpoint.objects.exists()


def test_deliveries_are_listed_and_deleting_stops_them(api, other_api, workspace, channel):
    created = api.post(
        "/api/v1/webhooks", {"url": "https://crm.example.com/in", "events": ["*"]}
    ).json()
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    customer_texts(channel=channel, sender="+33622222222", text="Salut")
    url = f"/api/v1/webhooks/{created['id']}/deliveries"
    response = api.get(url)
    assert response.status_code == 200, response.content
    rows = response.json()
    assert [r["payload"]["body"] for r in rows] == ["Salut", "Bonjour"]  # newest first
    assert {(r["event_type"], r["status"], r["attempts"]) for r in rows} == {
        ("message.received", "pending", 0)
    }
    assert all(r["next_attempt_at"] for r in rows)
    assert api.get(url, {"status": "delivered"}).json() == []
    assert len(api.get(url, {"limit": 1}).json()) == 1
    assert api.get(url, {"status": "lost"}).json()["error"]["field"] == "status"
    # Another workspace sees nothing of it and cannot delete it.
    assert other_api.get(url).status_code == 404
    assert other_api.get("/api/v1/webhooks").json() == []
    denied = other_api.delete(f"/api/v1/webhooks/{created['id']}")
    assert denied.status_code == 404
    assert denied.json()["error"]["field"] == "webhook_id"
    assert WebhookDelivery.objects.count() == 2
    deleted = api.delete(f"/api/v1/webhooks/{created['id']}")
    assert deleted.status_code == 204
    assert WebhookDelivery.objects.count() == 0
    assert api.delete(f"/api/v1/webhooks/{created['id']}").status_code == 404
    assert api.get(url).status_code == 404


def test_a_created_endpoint_can_start_paused(api, workspace, channel):
    api.post("/api/v1/webhooks", {"url": "https://a.example/", "events": ["*"], "active": False})
    customer_texts(channel=channel, sender="+33611111111", text="Bonjour")
    assert not WebhookDelivery.objects.exists()
    webhook_endpoint_create(workspace=workspace, url="http://b.example/", events=["*"])
    assert api.get("/api/v1/webhooks").json()[1]["url"] == "http://b.example/"
