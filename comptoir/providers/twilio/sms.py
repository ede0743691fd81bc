"""Twilio's messaging webhooks: an inbound SMS (`receive`) and a status callback (`status`).

Both are form posts already checked for their signature; they become events and nothing
else (storing them is `events_store`'s job, for every provider).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from comptoir.providers.base import (
    BadRequest,
    ChannelConfig,
    ChannelEvent,
    DeliveryStatus,
    Event,
    InboundMessage,
    StatusUpdate,
)
from comptoir.providers.twilio.outcomes import STOPPED_CODES

log = logging.getLogger(__name__)

# Twilio's MessageStatus → ours. The ones missing (accepted, scheduled, queued, sending,
# receiving, received) say nothing new about an outbound message: no event.
STATUSES = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,  # WhatsApp and RCS read receipts: delivered, at least
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}
IN_FLIGHT = frozenset({"accepted", "scheduled", "queued", "sending", "receiving", "received"})
MAX_MEDIA = 10  # Twilio sends at most 10 attachments per MMS


def required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise BadRequest(f"Twilio parameter {name!r} is missing or empty")
    return value


def inbound_message(channel: ChannelConfig, params: Mapping[str, str]) -> list[Event]:
    """A customer's SMS or MMS; attachments are listed after the text, as links."""
    body = params.get("Body", "")
    try:
        media = min(int(params.get("NumMedia") or 0), MAX_MEDIA)
    except ValueError:
        raise BadRequest(f"NumMedia {params.get('NumMedia')!r} is not a number") from None
    links = []
    for index in range(media):
        url = params.get(f"MediaUrl{index}", "")
        kind = params.get(f"MediaContentType{index}", "")
        if url:
            links.append(f"[{kind or 'attachment'}] {url}")
    if links:
        body = "\n".join([body, *links]) if body else "\n".join(links)
    return [
        InboundMessage(
            provider_id=required(params, "MessageSid"),
            sender=required(params, "From"),
            recipient=params.get("To") or channel.address,
            body=body,
        )
    ]


def status_callback(channel: ChannelConfig, params: Mapping[str, str]) -> list[Event]:
    """A delivery report; error 21610 also tells us the recipient opted out at Twilio."""
    sid = required(params, "MessageSid")
    raw = required(params, "MessageStatus")
    code = params.get("ErrorCode", "")
    events: list[Event] = []
    status = STATUSES.get(raw)
    if status is None:
        if raw not in IN_FLIGHT:
            raise BadRequest(f"unknown MessageStatus {raw!r}")
    elif status is DeliveryStatus.FAILED:
        reason = f"Twilio: {raw}" + (f" (error {code})" if code else "")
        events.append(StatusUpdate(sid, status, error_code=code, reason=reason))
    else:
        events.append(StatusUpdate(sid, status))
    if code in STOPPED_CODES:
        events.append(
            ChannelEvent(
                kind="opt_out",
                sender=required(params, "To"),  # the customer who opted out
                recipient=params.get("From") or channel.address,
                provider_id=sid,
                extra={"error_code": code, "message_sid": sid},
            )
        )
    return events
