from __future__ import annotations

from comptoir.messaging.models import Message


def test_send_message_goes_queued_sent_delivered(api, channel, django_capture_on_commit_callbacks):
    channel.config["receipt_delay"] = 0
    channel.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/messages", {"to": "06 12 34 56 78", "body": "Bonjour"})
    assert response.status_code == 202, response.content
    data = response.json()
    assert data["to"] == "+33612345678"
    message = Message.objects.get(id=data["id"])
    assert message.status == "delivered"
    detail = api.get(f"/api/v1/messages/{data['id']}").json()
    assert [h["status"] for h in detail["history"]] == ["queued", "sending", "sent", "delivered"]
