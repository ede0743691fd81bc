"""The events Comptoir itself reports to webhooks, emitted where they happen."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from comptoir.messaging.models import Message
from comptoir.webhooks.services import webhook_endpoints_active, webhooks_emit

log = logging.getLogger(__name__)

KEYWORD_PREFIX = "keyword_"


def message_received_payload(message: Message) -> dict[str, Any]:
    """`message.received`'s data: the text, who sent it and where it was filed."""
    contact = message.contact
    conversation = getattr(message, "conversation", None)
    kind = message.kind or ""
    return {
        "message_id": message.id,
        "conversation_id": conversation.id if conversation is not None else None,
        "channel_id": message.channel_id,
        "sender": message.address,
        "contact": None
        if contact is None
        else {
            "id": contact.id,
            "phone": contact.phone,
            "name": f"{contact.first_name} {contact.last_name}".strip(),
            "is_prospect": contact.is_prospect,
        },
        "body": message.body,
        "received_at": message.send_at,
        # "opt_out", "opt_in", "help" when the text was a compliance keyword.
        "keyword": kind.removeprefix(KEYWORD_PREFIX) if kind.startswith(KEYWORD_PREFIX) else None,
    }


def messages_received_emit(messages: Sequence[Message]) -> None:
    """Inbound step: a `message.received` delivery per subscribed endpoint, same transaction.

    A failure here is logged and rolled back to a savepoint: the customer's message is
    stored and the provider answered whatever happens to the webhook.
    """
    by_workspace: dict[Any, list[Message]] = defaultdict(list)
    for message in messages:
        by_workspace[message.workspace_id].append(message)
    for workspace_id, received in by_workspace.items():
        workspace = received[0].workspace
        if not any(e.wants("message.received") for e in webhook_endpoints_active(workspace)):
            continue  # most shops subscribe to nothing: not even a savepoint
        try:
            with transaction.atomic():
                webhooks_emit(
                    workspace,
                    [("message.received", message_received_payload(m)) for m in received],
                )
        except Exception:
            log.exception("workspace %s: could not record message.received webhooks", workspace_id)
