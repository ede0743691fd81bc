"""Outgoing webhooks: subscribing a URL, and emitting events into the delivery outbox.

`webhook_emit` only writes rows, in the caller's transaction: an event is reported if and
only if what it reports was stored, and no HTTP call ever runs inside the caller's path
(an inbound webhook, an automation). Workers POST the rows later (see delivery.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from comptoir.channels.crypto import decrypt_secrets, encrypt_secrets
from comptoir.core.errors import NotFound, ValidationError
from comptoir.webhooks.models import WebhookDelivery, WebhookEndpoint
from comptoir.workspaces.memo import workspace_memo
from comptoir.workspaces.models import Workspace

SECRET_PREFIX = "whsec_"
MAX_URL = 2000
MAX_EVENTS = 50
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

# Event types that exist, with what they mean (for the docs and the error that lists
# them). Other apps add theirs from their ready() with webhook_event_register.
EVENT_TYPES: dict[str, str | Promise] = {}


def webhook_event_register(name: str, description: str | Promise) -> None:
    """Declare an event type endpoints may subscribe to ("appointment.confirmed")."""
    if not EVENT_NAME.match(name):
        raise ValueError(f"webhook event names look like 'noun.verb', not {name!r}")
    EVENT_TYPES.setdefault(name, description)


webhook_event_register("message.received", gettext_lazy("A customer's text came in."))


def webhook_url_check(url: str) -> str:
    """The URL to POST to, or a ValidationError saying what is wrong with it."""
    url = url.strip()
    if not url:
        raise ValidationError(_("The URL is empty."), field="url")
    if len(url) > MAX_URL:
        raise ValidationError(_("The URL is over %(n)d characters.") % {"n": MAX_URL}, field="url")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValidationError(_("The URL contains spaces or control characters."), field="url")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError(_("The URL must start with https:// or http://."), field="url")
    try:
        parts.port  # noqa: B018  # raises on a port that is not a number in range
    except ValueError:
        raise ValidationError(_("The URL's port is not a valid number."), field="url") from None
    if not parts.hostname:
        raise ValidationError(_("The URL has no host name."), field="url")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            _("Put no user name or password in the URL: check the signature instead."),
            field="url",
        )
    return url


def webhook_events_check(events: Sequence[str]) -> list[str]:
    """The subscribed event types, each known, a "family.*" or "*"; the field is named."""
    if not events:
        raise ValidationError(
            _('Name at least one event, e.g. ["message.received"] or ["*"].'), field="events"
        )
    if len(events) > MAX_EVENTS:
        raise ValidationError(_("At most %(n)d event types.") % {"n": MAX_EVENTS}, field="events")
    families = {name.split(".")[0] for name in EVENT_TYPES}
    checked: list[str] = []
    for index, name in enumerate(events):
        name = name.strip()
        known = name == "*" or name in EVENT_TYPES
        known = known or (name.endswith(".*") and name[:-2] in families)
        if not known:
            raise ValidationError(
                _(
                    "Unknown event type %(name)r: use one of %(choices)s, a family like "
                    "“message.*”, or “*”."
                )
                % {"name": name, "choices": ", ".join(sorted(EVENT_TYPES))},
                field=f"events.{index}",
            )
        if name not in checked:
            checked.append(name)
    return checked


def webhook_endpoint_create(
    *, workspace: Workspace | Any, url: str, events: Sequence[str], active: bool = True
) -> tuple[WebhookEndpoint, str]:
    """Subscribe a URL; returns the endpoint and its signing secret, shown this once."""
    url = webhook_url_check(url)
    checked = webhook_events_check(events)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint.objects.create(
        workspace=workspace,
        url=url,
        events=checked,
        active=active,
        secret=encrypt_secrets({"secret": secret}),
    )
    return endpoint, secret


def webhook_endpoint_get(*, workspace: Workspace | Any, endpoint_id: Any) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.for_workspace(workspace).filter(id=endpoint_id).first()
    if endpoint is None:
        raise NotFound(_("No such webhook endpoint."), field="webhook_id")
    return endpoint


def webhook_endpoint_delete(*, workspace: Workspace | Any, endpoint_id: Any) -> None:
    """Unsubscribe: the endpoint and its deliveries go, pending ones are never sent."""
    webhook_endpoint_get(workspace=workspace, endpoint_id=endpoint_id).delete()


def endpoint_secret(endpoint: WebhookEndpoint) -> str:
    return decrypt_secrets(endpoint.secret).get("secret", "")


class _Encoder(DjangoJSONEncoder):
    """Django's encoder, but times keep their microseconds (receivers compare them)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime):
            return o.isoformat().replace("+00:00", "Z")
        return super().default(o)


def _plain(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload as plain JSON (ids and times as strings), as the receiver will read it."""
    data: dict[str, Any] = json.loads(json.dumps(payload, cls=_Encoder))
    return data


def webhook_endpoints_active(workspace: Workspace | Any) -> list[WebhookEndpoint]:
    """The endpoints events go to; kept in the memo of a Workspace object (not of an id)."""

    def load() -> list[WebhookEndpoint]:
        return list(WebhookEndpoint.objects.for_workspace(workspace).filter(active=True))

    if isinstance(workspace, Workspace):
        return workspace_memo(workspace, "webhook_endpoints", load)
    return load()


def webhooks_emit(
    workspace: Workspace | Any,
    events: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    occurred_at: dt.datetime | None = None,
) -> list[WebhookDelivery]:
    """Several events at once: one query for the endpoints, one insert for the rows."""
    for event_type, _payload in events:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unregistered webhook event type {event_type!r}")
    endpoints = webhook_endpoints_active(workspace)
    if not endpoints or not events:
        return []
    now = timezone.now()
    rows = []
    for event_type, payload in events:
        wanted = [e for e in endpoints if e.wants(event_type)]
        if not wanted:
            continue
        event_id, data = uuid.uuid4(), _plain(payload)
        rows += [
            WebhookDelivery(
                workspace_id=endpoint.workspace_id,
                endpoint=endpoint,
                event_id=event_id,
                event_type=event_type,
                occurred_at=occurred_at or now,
                payload=data,
                next_attempt_at=now,
            )
            for endpoint in wanted
        ]
    if rows:
        WebhookDelivery.objects.bulk_create(rows)
        from comptoir.webhooks.delivery import deliveries_wake

        transaction.on_commit(deliveries_wake, robust=True)
    return rows


def webhook_emit(
    workspace: Workspace | Any,
    event_type: str,
    payload: Mapping[str, Any],
    *,
    occurred_at: dt.datetime | None = None,
) -> list[WebhookDelivery]:
    """Report an event to every active endpoint of the workspace that subscribed to it.

    Writes one delivery row per endpoint in the caller's transaction and wakes a worker
    after commit; never calls out. Raises ValueError for an unregistered event type.
    """
    return webhooks_emit(workspace, [(event_type, payload)], occurred_at=occurred_at)
