"""POST/GET /api/v1/messages: queueing, encoding, idempotency, bad input, keys and scoping."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from comptoir.contacts.models import Contact
from comptoir.contacts.services import SENDING_FIELDS, contact_create
from comptoir.messaging import outbox
from comptoir.messaging.models import Message, MessageTransition
from comptoir.messaging.outbox import message_send
from comptoir.workspaces.models import ApiKey
from comptoir.workspaces.services import api_key_create


def _client(api, key: str | None):
    """A JSON client like the `api` fixture's, with another key (or none)."""
    return type(api)(key)


def _counts() -> tuple[int, int, int]:
    return Message.objects.count(), Contact.objects.count(), MessageTransition.objects.count()


# --- queueing -------------------------------------------------------------------------------


def test_send_to_a_new_phone_creates_the_contact(api, workspace, channel):
    response = api.post("/api/v1/messages", {"to": "06 12 34 56 78", "body": "Bonjour"})
    assert response.status_code == 202, response.content
    data = response.json()
    assert data["to"] == "+33612345678"
    assert data["status"] == "queued"
    assert data["encoding"] == "gsm7"
    assert data["segments"] == 1
    assert data["purpose"] == "conversational"
    assert data["priority"] == 1
    assert data["direction"] == "out"
    assert data["replayed"] is False
    assert data["replacements"] == []
    assert data["channel_id"] == str(channel.id)
    contact = Contact.objects.get(workspace=workspace, phone="+33612345678")
    assert data["contact_id"] == str(contact.id)
    assert contact.number_type == "mobile"
    assert contact.is_prospect is True  # nobody typed a name for it yet
    message = Message.objects.get(id=data["id"])
    assert (message.workspace, message.contact, message.address) == (
        workspace,
        contact,
        "+33612345678",
    )
    assert list(message.transitions.values_list("status", flat=True)) == ["queued"]


def test_send_to_a_known_phone_reuses_the_contact(api, workspace):
    contact = contact_create(workspace=workspace, phone="06 12 34 56 78", first_name="Léa")
    response = api.post("/api/v1/messages", {"to": "+33 6 12 34 56 78", "body": "Bonjour Léa"})
    assert response.status_code == 202, response.content
    assert response.json()["contact_id"] == str(contact.id)
    assert Contact.objects.count() == 1


def test_queued_messages_come_back_as_a_read_gives_them(
    workspace, channel, django_assert_num_queries
):
    # Written as rows, then built from them: the same columns as stored, relations at hand.
    known = contact_create(workspace=workspace, phone="06 12 34 56 78", first_name="Léa")
    results = outbox.messages_send(
        workspace=workspace,
        requests=[
            outbox.SendRequest("06 12 34 56 78", "Bonjour Léa", "transactional", "k1"),
            outbox.SendRequest("01 99 00 12 34", "Bonjour"),  # a fixed line: blocked
            outbox.SendRequest("+33612345678", "Bonjour Léa", "transactional", "k1"),
        ],
    )
    assert [r.created for r in results] == [True, True, False]
    assert results[2].message is results[0].message
    columns = [f.attname for f in Message._meta.concrete_fields]
    for result in results:
        message = result.message
        stored = Message.objects.get(id=message.id)
        assert [getattr(message, c) for c in columns] == [getattr(stored, c) for c in columns]
        assert not message._state.adding
        with django_assert_num_queries(0):
            assert (message.workspace, message.channel) == (workspace, channel)
            assert message.contact.phone == message.address
    assert results[0].message.contact == known
    # The contact loads as `.only(*SENDING_FIELDS)` would: the rest on first use.
    assert results[0].message.contact.get_deferred_fields() == (
        Contact.objects.only(*SENDING_FIELDS).get(id=known.id).get_deferred_fields()
    )
    assert results[1].message.status == "blocked"
    assert list(MessageTransition.objects.values_list("status", flat=True).order_by("id")) == [
        "queued",
        "blocked",
    ]


def test_send_to_a_contact_id(api, workspace):
    contact = contact_create(workspace=workspace, phone="06 12 34 56 78")
    response = api.post("/api/v1/messages", {"to": str(contact.id), "body": "Bonjour"})
    assert response.status_code == 202, response.content
    assert response.json()["to"] == "+33612345678"
    assert response.json()["contact_id"] == str(contact.id)


def test_send_to_another_workspaces_contact_id_is_404(api, other_workspace):
    contact = contact_create(workspace=other_workspace, phone="06 12 34 56 78")
    before = _counts()
    response = api.post("/api/v1/messages", {"to": str(contact.id), "body": "Bonjour"})
    assert response.status_code == 404, response.content
    assert response.json()["error"]["field"] == "to"
    assert _counts() == before


def test_send_to_an_unknown_contact_id_is_404(api, workspace):
    response = api.post("/api/v1/messages", {"to": str(uuid.uuid4()), "body": "Bonjour"})
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "not_found",
        "field": "to",
        "message": response.json()["error"]["message"],
    }
    assert _counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("body", "encoding", "segments"),
    [
        ("Bonjour, vos lunettes sont prêtes !", "ucs2", 1),
        ("Vos lunettes sont prêtes", "ucs2", 1),
        ("Bonjour, vos lunettes sont pretes. A bientot !", "gsm7", 1),
        ("é" * 160, "gsm7", 1),  # é is in the GSM-7 alphabet
        ("a" * 161, "gsm7", 2),
        ("a" * 306, "gsm7", 2),
        ("a" * 307, "gsm7", 3),
        ("€" * 80, "gsm7", 1),  # extension characters count two septets
        ("€" * 81, "gsm7", 2),
        ("ê" * 70, "ucs2", 1),
        ("ê" * 71, "ucs2", 2),
        ("😀" * 35, "ucs2", 1),  # surrogate pairs count two units
        ("😀" * 36, "ucs2", 2),
    ],
)
def test_encoding_and_segments_are_reported(api, workspace, body, encoding, segments):
    response = api.post("/api/v1/messages", {"to": "06 12 34 56 78", "body": body})
    assert response.status_code == 202, response.content
    assert (response.json()["encoding"], response.json()["segments"]) == (encoding, segments)
    message = Message.objects.get(id=response.json()["id"])
    assert (message.encoding, message.segments) == (encoding, segments)


def test_smart_encoding_replacements_are_reported(api, workspace):
    body = "C\u2019est pret \u201cmerci\u201d \u2019"
    response = api.post("/api/v1/messages", {"to": "06 12 34 56 78", "body": body})
    assert response.status_code == 202, response.content
    data = response.json()
    assert data["encoding"] == "gsm7"
    assert data["body"] == "C'est pret \"merci\" '"
    assert data["replacements"] == [
        {"original": "\u2019", "replacement": "'", "count": 2},
        {"original": "\u201c", "replacement": '"', "count": 1},
        {"original": "\u201d", "replacement": '"', "count": 1},
    ]
    assert Message.objects.get(id=data["id"]).body == "C'est pret \"merci\" '"


def test_no_smart_encoding_when_the_text_stays_ucs2(api, workspace):
    body = "\u201cVos lunettes sont pr\u00eates\u201d"
    response = api.post("/api/v1/messages", {"to": "06 12 34 56 78", "body": body})
    assert response.json()["encoding"] == "ucs2"
    assert response.json()["replacements"] == []
    assert response.json()["body"] == body


@pytest.mark.parametrize(
    ("purpose", "priority"),
    [("transactional", 0), ("conversational", 1), ("marketing", 2)],
)
def test_priority_follows_purpose(api, workspace, purpose, priority):
    response = api.post(
        "/api/v1/messages", {"to": "06 12 34 56 78", "body": "Bonjour", "purpose": purpose}
    )
    assert response.status_code == 202, response.content
    assert response.json()["priority"] == priority
    message = Message.objects.get(id=response.json()["id"])
    assert (message.purpose, message.priority) == (purpose, priority)


def test_send_at_in_the_future_stays_queued(
    api, workspace, channel, django_capture_on_commit_callbacks
):
    channel.config["receipt_delay"] = 0
    channel.save()
    later = timezone.now() + dt.timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/messages",
            {"to": "06 12 34 56 78", "body": "Rappel", "send_at": later.isoformat()},
        )
    assert response.status_code == 202, response.content
    message = Message.objects.get(id=response.json()["id"])
    assert message.status == "queued"
    assert message.send_at == later
    assert message.sending_at is None


def test_send_now_goes_out_once_committed(
    api, workspace, channel, django_capture_on_commit_callbacks
):
    channel.config["receipt_delay"] = 0
    channel.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/messages",
            {"to": "06 12 34 56 78", "body": "Bonjour", "purpose": "transactional"},
        )
    message = Message.objects.get(id=response.json()["id"])
    assert message.status == "delivered"
    assert message.provider_id
    assert message.sending_at and message.sent_at and message.delivered_at


def test_a_fixed_line_is_blocked_with_a_reason(api, workspace, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/messages", {"to": "01 99 00 12 34", "body": "Bonjour"})
    assert response.status_code == 202, response.content
    data = response.json()
    assert data["status"] == "blocked"
    assert data["error_code"] == "not_mobile"
    assert "fixed line" in data["error_reason"]
    assert data["failed_at"] is not None
    message = Message.objects.get(id=data["id"])
    assert message.status == "blocked"
    assert message.attempts == 0
    detail = api.get(f"/api/v1/messages/{data['id']}").json()
    assert [(h["status"], h["code"]) for h in detail["history"]] == [("blocked", "not_mobile")]
    assert detail["history"][0]["reason"] == data["error_reason"]


# --- idempotency ----------------------------------------------------------------------------


def test_same_idempotency_key_and_body_is_the_same_message(
    api, workspace, django_capture_on_commit_callbacks
):
    payload = {
        "to": "06 12 34 56 78",
        "body": "Code : 4821",
        "purpose": "transactional",
        "idempotency_key": "order-42",
    }
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post("/api/v1/messages", payload)
    assert first.status_code == 202
    assert first.json()["replayed"] is False
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = api.post("/api/v1/messages", {**payload, "to": "+33 6 12 34 56 78"})
    assert again.status_code == 202, again.content
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["replayed"] is True
    assert again.json()["status"] == Message.objects.get().status
    assert Message.objects.count() == 1
    assert callbacks == []  # no second wake-up, no second send
    assert Message.objects.get().attempts == 1


def test_same_idempotency_key_with_the_same_instant_in_another_offset(api, workspace):
    payload = {
        "to": "06 12 34 56 78",
        "body": "Rappel",
        "idempotency_key": "rdv-7",
        "send_at": "2031-11-24T10:00:00+01:00",
    }
    first = api.post("/api/v1/messages", payload)
    again = api.post("/api/v1/messages", {**payload, "send_at": "2031-11-24T09:00:00Z"})
    assert again.status_code == 202, again.content
    assert again.json()["id"] == first.json()["id"]


@pytest.mark.parametrize(
    "change",
    [
        {"body": "Code : 9999"},
        {"to": "06 12 34 56 79"},
        {"purpose": "marketing"},
        {"send_at": "2031-01-01T10:00:00+01:00"},
    ],
)
def test_same_idempotency_key_different_request_is_409(api, workspace, change):
    payload = {"to": "06 12 34 56 78", "body": "Code : 4821", "idempotency_key": "order-42"}
    first = api.post("/api/v1/messages", payload)
    assert first.status_code == 202
    before = _counts()
    response = api.post("/api/v1/messages", {**payload, **change})
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "idempotency_conflict"
    assert error["field"] == "idempotency_key"
    assert "order-42" in error["message"]
    assert _counts() == before  # not even the new number's contact


def test_idempotency_keys_are_per_workspace(api, workspace, other_workspace):
    theirs = message_send(
        workspace=other_workspace, to="06 12 34 56 78", body="Autre", idempotency_key="order-42"
    ).message
    response = api.post(
        "/api/v1/messages", {"to": "06 12 34 56 78", "body": "Code", "idempotency_key": "order-42"}
    )
    assert response.status_code == 202, response.content
    assert response.json()["id"] != str(theirs.id)
    assert response.json()["replayed"] is False


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "status", "field", "reason"),
    [
        ({"to": "0612", "body": "Bonjour"}, 422, "to", "not a valid number"),
        ({"to": "abc", "body": "Bonjour"}, 422, "to", "no digits"),
        ({"to": "AMAZON", "body": "Bonjour"}, 422, "to", "no digits"),
        ({"to": "", "body": "Bonjour"}, 422, "to", "required"),
        ({"body": "Bonjour"}, 422, "to", "required"),
        ({"to": "06 12 34 56 78", "body": ""}, 422, "body", "empty"),
        ({"to": "06 12 34 56 78", "body": " \n\t "}, 422, "body", "empty"),
        ({"to": "06 12 34 56 78"}, 422, "body", "required"),
        ({"to": "06 12 34 56 78", "body": "a" * 1531}, 422, "body", "11 sms segments"),
        ({"to": "06 12 34 56 78", "body": "ê" * 671}, 422, "body", "11 sms segments"),
        ({"to": "06 12 34 56 78", "body": "Hi", "purpose": "spam"}, 422, "purpose", "spam"),
        ({"to": "06 12 34 56 78", "body": "Hi", "purpose": ""}, 422, "purpose", "purpose"),
        (
            {"to": "06 12 34 56 78", "body": "Hi", "send_at": "2031-11-24T10:00:00"},
            422,
            "send_at",
            "time zone",
        ),
        ({"to": "06 12 34 56 78", "body": "Hi", "send_at": "demain"}, 422, "send_at", "datetime"),
        (
            {"to": "06 12 34 56 78", "body": "Hi", "idempotency_key": "k" * 201},
            422,
            "idempotency_key",
            "200",
        ),
        ({"to": "01 99 00 12 34", "body": "Hi", "purpose": "spam"}, 422, "purpose", "spam"),
    ],
)
def test_bad_message_is_4xx_with_field_and_nothing_stored(
    api, workspace, payload, status, field, reason
):
    response = api.post("/api/v1/messages", payload)
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["field"] == field
    assert reason in error["message"].lower()
    assert _counts() == (0, 0, 0)


def test_longest_body_allowed_is_ten_segments(api, workspace):
    response = api.post("/api/v1/messages", {"to": "06 12 34 56 78", "body": "a" * 1530})
    assert response.status_code == 202, response.content
    assert response.json()["segments"] == 10


def test_the_segment_cap_is_per_workspace(api, workspace):
    workspace.max_segments = 2
    workspace.save()
    response = api.post("/api/v1/messages", {"to": "06 12 34 56 78", "body": "a" * 307})
    assert response.status_code == 422
    assert "allows 2" in response.json()["error"]["message"]


def test_malformed_json_is_400_with_a_clear_message(api, workspace):
    response = api.post(
        "/api/v1/messages",
        '{"to": "06 12 34 56 78", "body": "Bonjour"',
        content_type="application/json",
    )
    assert response.status_code in (400, 422), response.content
    error = response.json()["error"]
    assert "json" in error["message"].lower()
    assert _counts() == (0, 0, 0)


def test_a_body_that_is_not_an_object_is_422(api, workspace):
    response = api.post(
        "/api/v1/messages", '["06 12 34 56 78", "Bonjour"]', content_type="application/json"
    )
    assert response.status_code == 422, response.content
    assert response.json()["error"]["message"]
    assert _counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("to=06+12+34+56+78&body=Bonjour", "application/x-www-form-urlencoded"),
        ("to: 06 12 34 56 78", "text/plain"),
    ],
)
def test_wrong_content_type_is_415(api, workspace, data, content_type):
    response = api.post("/api/v1/messages", data, content_type=content_type)
    assert response.status_code == 415, response.content
    error = response.json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert "application/json" in error["message"]
    assert _counts() == (0, 0, 0)


def test_json_with_a_charset_is_fine(api, workspace):
    response = api.post(
        "/api/v1/messages",
        '{"to": "06 12 34 56 78", "body": "Bonjour"}',
        content_type="application/json; charset=utf-8",
    )
    assert response.status_code == 202, response.content


def test_empty_body_is_a_clear_4xx(api, workspace):
    response = api.post("/api/v1/messages", "", content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["message"]


def test_not_found_and_validation_errors_share_one_shape(api, workspace):
    for response in (
        api.post("/api/v1/messages", {"to": "abc", "body": "Hi"}),
        api.post("/api/v1/messages", {"to": "06 12 34 56 78", "body": 3}),
        api.get(f"/api/v1/messages/{uuid.uuid4()}"),
        api.get("/api/v1/messages/not-a-uuid"),
    ):
        assert set(response.json()["error"]) == {"code", "field", "message"}, response.content


# --- batch ----------------------------------------------------------------------------------


def test_batch_queues_all(api, workspace):
    contact = contact_create(workspace=workspace, phone="06 12 34 56 70")
    response = api.post(
        "/api/v1/messages/batch",
        {
            "messages": [
                {"to": "06 12 34 56 78", "body": "Un"},
                {"to": str(contact.id), "body": "Deux", "purpose": "marketing"},
                {"to": "+33 6 12 34 56 78", "body": "Trois", "purpose": "transactional"},
            ]
        },
    )
    assert response.status_code == 202, response.content
    data = response.json()
    assert [m["to"] for m in data] == ["+33612345678", "+33612345670", "+33612345678"]
    assert [m["priority"] for m in data] == [1, 2, 0]
    assert Message.objects.count() == 3
    assert Contact.objects.count() == 2


@pytest.mark.parametrize(
    ("bad", "status", "field"),
    [
        ({"to": "abc", "body": "Deux"}, 422, "messages.1.to"),
        ({"to": "06 12 34 56 79", "body": ""}, 422, "messages.1.body"),
        ({"to": "06 12 34 56 79", "body": "Hi", "purpose": "spam"}, 422, "messages.1.purpose"),
        (
            {"to": "06 12 34 56 79", "body": "Hi", "send_at": "2031-11-24T10:00:00"},
            422,
            "messages.1.send_at",
        ),
        ({"to": str(uuid.uuid4()), "body": "Deux"}, 404, "messages.1.to"),
        ({"body": "Deux"}, 422, "messages.1.to"),
        (
            {"to": "06 12 34 56 79", "body": "Deux", "idempotency_key": "k1"},
            409,
            "messages.1.idempotency_key",
        ),
    ],
)
def test_batch_is_all_or_none(api, workspace, bad, status, field):
    response = api.post(
        "/api/v1/messages/batch",
        {
            "messages": [
                {"to": "06 12 34 56 78", "body": "Un", "idempotency_key": "k1"},
                bad,
                {"to": "06 12 34 56 77", "body": "Trois"},
            ]
        },
    )
    assert response.status_code == status, response.content
    assert response.json()["error"]["field"] == field
    assert _counts() == (0, 0, 0)


def test_batch_query_count_does_not_grow_with_its_size(api, workspace):
    def queries(count: int, offset: int) -> int:
        items = [
            {
                "to": f"06 12 34 {offset + i // 100:02d} {i % 100:02d}",
                "body": "Bonjour",
                "idempotency_key": f"{offset}-{i}",
            }
            for i in range(count)
        ]
        with CaptureQueriesContext(connection) as context:
            response = api.post("/api/v1/messages/batch", {"messages": items})
        assert response.status_code == 202, response.content
        return len(context.captured_queries)

    api.get("/api/v1/contacts")  # the key's last_used_at is touched once, here
    assert queries(3, 10) == queries(60, 20)


def test_batch_repeating_a_key_with_the_same_request_is_one_message(api, workspace):
    item = {"to": "06 12 34 56 78", "body": "Un", "idempotency_key": "k1"}
    response = api.post("/api/v1/messages/batch", {"messages": [item, item]})
    assert response.status_code == 202, response.content
    first, second = response.json()
    assert first["id"] == second["id"]
    assert Message.objects.count() == 1


def test_batch_needs_one_to_a_thousand_messages(api, workspace):
    assert api.post("/api/v1/messages/batch", {"messages": []}).status_code == 422
    many = [{"to": "06 12 34 56 78", "body": "x"}] * 1001
    response = api.post("/api/v1/messages/batch", {"messages": many})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "messages"
    assert _counts() == (0, 0, 0)


# --- reading --------------------------------------------------------------------------------


def test_get_message_with_history(api, workspace, channel, django_capture_on_commit_callbacks):
    channel.config["receipt_delay"] = 0
    channel.save()
    with django_capture_on_commit_callbacks(execute=True):
        sent = api.post("/api/v1/messages", {"to": "06 12 34 56 78", "body": "Bonjour"}).json()
    response = api.get(f"/api/v1/messages/{sent['id']}")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "delivered"
    assert data["to"] == "+33612345678"
    assert [h["status"] for h in data["history"]] == ["queued", "sending", "sent", "delivered"]
    times = [h["at"] for h in data["history"]]
    assert times == sorted(times)


def test_get_a_queued_message(api, workspace):
    sent = api.post("/api/v1/messages", {"to": "06 12 34 56 78", "body": "Bonjour"}).json()
    data = api.get(f"/api/v1/messages/{sent['id']}").json()
    assert data["status"] == "queued"
    assert [h["status"] for h in data["history"]] == ["queued"]


def test_another_workspaces_message_is_404(api, other_workspace):
    theirs = message_send(workspace=other_workspace, to="06 12 34 56 78", body="Autre").message
    response = api.get(f"/api/v1/messages/{theirs.id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert api.get(f"/api/v1/messages/{uuid.uuid4()}").status_code == 404


# --- keys -----------------------------------------------------------------------------------


def _revoked_key(workspace) -> str:
    key, raw = api_key_create(workspace=workspace)
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    return raw


@pytest.mark.parametrize("key", [None, "", "cpt_wrong", "revoked"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/messages"),
        ("post", "/api/v1/messages/batch"),
        ("get", "/api/v1/messages/{id}"),
        ("post", "/api/v1/contacts"),
        ("get", "/api/v1/contacts"),
        ("get", "/api/v1/contacts/{id}"),
    ],
)
def test_401_without_a_valid_key(api, workspace, key, method, path):
    message = message_send(workspace=workspace, to="06 12 34 56 78", body="Bonjour").message
    client = _client(api, _revoked_key(workspace) if key == "revoked" else key)
    before = _counts()
    path = path.format(id=message.id if "messages" in path else message.contact_id)
    payload = {
        "to": "06 12 34 56 79",
        "body": "Hi",
        "phone": "06 12 34 56 79",
        "messages": [{"to": "06 12 34 56 79", "body": "Hi"}],
    }
    response = client.post(path, payload) if method == "post" else client.get(path)
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "unauthorized"
    assert _counts() == before


def test_a_key_in_another_scheme_is_401(workspace, api_key, client):
    response = client.get("/api/v1/contacts", HTTP_AUTHORIZATION=f"Basic {api_key}")
    assert response.status_code == 401


def test_a_key_only_sees_its_workspace(api, workspace, other_workspace):
    theirs = _client(api, api_key_create(workspace=other_workspace)[1])
    mine = api
    sent = mine.post("/api/v1/messages", {"to": "06 12 34 56 78", "body": "Bonjour"}).json()
    assert theirs.get(f"/api/v1/messages/{sent['id']}").status_code == 404
    assert theirs.get(f"/api/v1/contacts/{sent['contact_id']}").status_code == 404
    assert theirs.get("/api/v1/contacts").json() == []


# --- OpenAPI --------------------------------------------------------------------------------


def test_openapi_lists_the_paths(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/contacts",
        "/api/v1/contacts/{contact_id}",
        "/api/v1/messages",
        "/api/v1/messages/batch",
        "/api/v1/messages/{message_id}",
    ):
        assert path in paths
    assert "bearer" in str(response.json()["components"]["securitySchemes"]).lower()


def test_docs_page(client, db):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert b"openapi.json" in response.content
    # Served from this install's static files: it works offline, behind a strict firewall.
    assert b"/static/ninja/swagger-ui-bundle.js" in response.content
    assert b"cdn." not in response.content


def test_a_body_with_a_nul_character_is_422(api, workspace):
    response = api.post("/api/v1/messages", {"to": "06 12 34 56 78", "body": "Bon\x00jour"})
    assert response.status_code == 422, response.content
    assert response.json()["error"]["field"] == "body"
    assert _counts() == (0, 0, 0)


@pytest.mark.parametrize("key", ["", None])
def test_an_empty_idempotency_key_is_no_key(api, workspace, key):
    for body in ("Un", "Deux"):
        response = api.post(
            "/api/v1/messages", {"to": "06 12 34 56 78", "body": body, "idempotency_key": key}
        )
        assert response.status_code == 202, response.content
        assert response.json()["replayed"] is False
    assert Message.objects.count() == 2


def test_losing_an_idempotency_race_answers_with_the_winner(workspace, monkeypatch):
    winner = message_send(
        workspace=workspace, to="06 12 34 56 78", body="Code", idempotency_key="k1"
    ).message
    real, calls = outbox._enqueue, []

    def racing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # as if the winner committed between our check and our insert
            raise IntegrityError("message_idempotency_unique")
        return real(*args, **kwargs)

    monkeypatch.setattr(outbox, "_enqueue", racing)
    result = message_send(
        workspace=workspace, to="06 12 34 56 78", body="Code", idempotency_key="k1"
    )
    assert (result.message.id, result.created) == (winner.id, False)
    assert len(calls) == 2
    assert Message.objects.count() == 1


def test_an_integrity_error_that_persists_is_raised_not_retried_forever(workspace, monkeypatch):
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise IntegrityError("something else")

    monkeypatch.setattr(outbox, "_enqueue", broken)
    with pytest.raises(IntegrityError):
        message_send(workspace=workspace, to="06 12 34 56 78", body="Code", idempotency_key="k")
    assert len(calls) == 2


def test_a_body_over_the_upload_limit_is_413_in_the_error_shape(api, workspace, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    items = [{"to": "06 12 34 56 78", "body": "a" * 200}] * 60
    response = api.post("/api/v1/messages/batch", {"messages": items})
    assert response.status_code == 413, response.content
    assert response.json()["error"]["code"] == "too_large"
    assert _counts() == (0, 0, 0)
