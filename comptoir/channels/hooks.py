"""/hooks/<channel-uuid>/<action>: every provider calls us at one shape of URL."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from comptoir.channels.models import Channel
from comptoir.channels.recent import channel_recent
from comptoir.core.groupcommit import GroupCommit
from comptoir.messaging.inbound import StoreReport, events_store_many
from comptoir.providers.base import (
    BadRequest,
    Event,
    HookResult,
    SignatureError,
    WebhookRequest,
)
from comptoir.providers.registry import UnknownProvider, provider_type

log = logging.getLogger(__name__)

MAX_HOOK_BODY = 1024 * 1024


class UnknownEndpoint(LookupError):
    pass


# Deliveries that arrive together are stored in one transaction (see core/groupcommit).
STORE = GroupCommit[tuple[Channel, Sequence[Event]], StoreReport](
    events_store_many, max_batch=settings.COMPTOIR_INBOUND_BATCH
)


def hook_handle(*, channel: Channel, action: str, request: WebhookRequest) -> HookResult:
    """Check and parse a provider's request, store its events, and return the answer.

    Raises UnknownEndpoint, SignatureError (nothing stored) or BadRequest.
    """
    try:
        ptype = provider_type(channel.provider)
    except UnknownProvider as exc:
        raise UnknownEndpoint(str(exc)) from exc
    endpoint = ptype.endpoint(action)
    if endpoint is None or endpoint.method != request.method:
        raise UnknownEndpoint(f"{channel.provider} has no {request.method} {action!r} hook")
    result = ptype.handle(channel.as_config(), action, request)
    if not result.events:
        return result
    if connection.in_atomic_block:
        # The caller's transaction must hold the events (and may hold the SQLite write
        # lock, which another thread leading a batch would wait for).
        events_store_many([(channel, result.events)])
    else:
        STORE.submit((channel, result.events))
    return result


def webhook_request(request: HttpRequest) -> WebhookRequest:
    return WebhookRequest(
        method=request.method or "GET",
        url=request.build_absolute_uri(),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=request.body,
        form={k: request.POST[k] for k in request.POST}
        if request.content_type == "application/x-www-form-urlencoded"
        else {},
        query={k: request.GET[k] for k in request.GET},
    )


@csrf_exempt
def channel_hook(request: HttpRequest, channel_uuid: uuid.UUID, action: str) -> HttpResponse:
    channel = channel_recent(channel_uuid)
    if channel is None:
        return HttpResponse("unknown channel\n", status=404, content_type="text/plain")
    length = int(request.headers.get("Content-Length") or 0)
    if length > MAX_HOOK_BODY:
        return HttpResponse("request body too large\n", status=413, content_type="text/plain")
    try:
        result = hook_handle(channel=channel, action=action, request=webhook_request(request))
    except UnknownEndpoint:
        return HttpResponse("unknown action\n", status=404, content_type="text/plain")
    except SignatureError as exc:
        log.warning("channel %s: refused %s hook: %s", channel.id, action, exc)
        return HttpResponse("invalid signature\n", status=403, content_type="text/plain")
    except BadRequest as exc:
        return HttpResponse(f"{exc}\n", status=400, content_type="text/plain")
    return HttpResponse(result.body, status=result.status, content_type=result.content_type)
