"""POSTing webhook deliveries: claim due rows, sign, send, record; retry with backoff.

A run holds no transaction while it calls out. Each batch goes:
1. claim (one transaction): due pending rows, `FOR UPDATE SKIP LOCKED` on PostgreSQL
   (SQLite serialises writers), get a claim token and a lease that outlasts the batch's
   worst-case time, so no other worker POSTs them meanwhile;
2. POST each, with a 5 s timeout, following no redirect;
3. record the answer, guarded by the claim token: 2xx delivered; anything else retried
   after 30 s, 2 min, 10 min, 1 h, then every 6 h; failed after the 8th attempt.
An endpoint that times out or refuses the connection is not called again in the same
run: its other claimed deliveries record the same failure instead of each waiting 5 s,
so one dead receiver cannot hold up every other workspace's webhooks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from comptoir.webhooks.models import DeliveryStatus, WebhookDelivery
from comptoir.webhooks.services import endpoint_secret

log = logging.getLogger(__name__)

TIMEOUT = 5.0
# Seconds before attempt n + 1 after attempt n failed; one attempt more than delays.
BACKOFF = (30, 120, 600, 3600, 6 * 3600, 6 * 3600, 6 * 3600)
MAX_ATTEMPTS = len(BACKOFF) + 1
BATCH = 10
# A claim outlasts a whole batch of timeouts (connect, send and read each have TIMEOUT).
LEASE = dt.timedelta(seconds=BATCH * 3 * TIMEOUT + 60)
# A run stops claiming after this long and wakes another, so periodic runs never pile up.
RUN_BUDGET = 50.0
EXCERPT = 200
WAKE_FLAG = "comptoir.webhooks.wake"
WAKE_STALE = 10.0
USER_AGENT = "Comptoir-Webhooks/1"


def retry_delay(attempts: int) -> dt.timedelta:
    """How long after failed attempt number `attempts` the next one is due."""
    return dt.timedelta(seconds=BACKOFF[min(attempts, len(BACKOFF)) - 1])


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the time is signed, so a captured
    request cannot be replayed later."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def delivery_body(delivery: WebhookDelivery) -> bytes:
    """The JSON body, the same on every attempt."""
    envelope = {
        "id": str(delivery.event_id),
        "type": delivery.event_type,
        "created_at": delivery.occurred_at.isoformat().replace("+00:00", "Z"),
        "workspace": str(delivery.workspace_id),
        "data": delivery.payload,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Answer:
    """What one POST got: an HTTP status, or an error where no status came back."""

    status_code: int | None
    error: str = ""
    unreachable: bool = False  # timed out or no connection: the endpoint, not this event

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def private_address(host: str, port: int) -> str:
    """The private, loopback or link-local address the host resolves to, else ""."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        return ""  # the connection attempt reports it
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return str(address)
    return ""


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST with the standard library; redirects are answers, not followed.

    With COMPTOIR_WEBHOOKS_ALLOW_PRIVATE off (an installation hosting many shops), a URL
    that leads into the installation's own network is refused, so a workspace cannot use
    webhooks to reach internal services.
    """
    parts = urlsplit(url)
    https = parts.scheme.lower() == "https"
    port = parts.port or (443 if https else 80)
    host = parts.hostname or ""
    if not settings.COMPTOIR_WEBHOOKS_ALLOW_PRIVATE:
        address = private_address(host, port)
        if address:
            return Answer(None, f"refused: {host} resolves to the private address {address}")
    connection: http.client.HTTPConnection
    if https:
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=_tls())
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT).decode("utf-8", "replace").strip()
    except TimeoutError:
        return Answer(None, f"timed out after {timeout:g} s", unreachable=True)
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, f"connection failed: {type(exc).__name__}: {exc}", unreachable=True)
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return Answer(response.status)
    return Answer(response.status, f"HTTP {response.status} {response.reason}: {excerpt}"[:500])


def delivery_post(delivery: WebhookDelivery) -> Answer:
    """Sign and POST one delivery to its endpoint."""
    body = delivery_body(delivery)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Comptoir-Event": delivery.event_type,
        "X-Comptoir-Delivery": str(delivery.event_id),
        "X-Comptoir-Attempt": str(delivery.attempts + 1),
        "X-Comptoir-Signature": signature_header(
            endpoint_secret(delivery.endpoint), body, timestamp
        ),
    }
    return http_post(delivery.endpoint.url, body, headers, TIMEOUT)


def _claim(size: int, token: uuid.UUID) -> list[WebhookDelivery]:
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.filter(
                status=DeliveryStatus.PENDING, next_attempt_at__lte=now, endpoint__active=True
            )
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("next_attempt_at")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:size]
        )
        if ids:
            WebhookDelivery.objects.filter(id__in=ids).update(
                claim_token=token, claimed_until=now + LEASE
            )
    if not ids:
        return []
    rows = WebhookDelivery.objects.filter(id__in=ids, claim_token=token).select_related("endpoint")
    return list(rows.order_by("next_attempt_at"))


def _record(delivery: WebhookDelivery, token: uuid.UUID, answer: Answer) -> str:
    """Write the attempt's outcome, only while our claim holds; returns the new status."""
    now = timezone.now()
    attempts = delivery.attempts + 1
    fields: dict[str, object] = {
        "attempts": attempts,
        "last_attempt_at": now,
        "last_status_code": answer.status_code,
        "last_error": answer.error,
        "claim_token": None,
        "claimed_until": None,
    }
    if answer.ok:
        status = DeliveryStatus.DELIVERED
        fields["delivered_at"] = now
    elif attempts >= MAX_ATTEMPTS:
        status = DeliveryStatus.FAILED
    else:
        status = DeliveryStatus.PENDING
        fields["next_attempt_at"] = now + retry_delay(attempts)
    fields["status"] = status
    WebhookDelivery.objects.filter(id=delivery.id, claim_token=token).update(**fields)
    return status


@dataclass
class RunReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    more: bool = False  # stopped on the time budget with work left
    next_due: dt.datetime | None = None


def deliveries_send_due(*, budget: float = RUN_BUDGET, batch: int = BATCH) -> RunReport:
    """Send every due delivery (until the time budget runs out); safe with many workers."""
    report = RunReport()
    token = uuid.uuid4()
    started = time.monotonic()
    down: dict[uuid.UUID, str] = {}  # endpoints found unreachable in this run, and why
    while True:
        if time.monotonic() - started > budget:
            report.more = True
            break
        rows = _claim(batch, token)
        if not rows:
            break
        for delivery in rows:
            if delivery.endpoint_id in down:
                reason = down[delivery.endpoint_id]
                answer = Answer(None, f"not tried: {reason} on an earlier delivery", True)
            else:
                answer = delivery_post(delivery)
                if answer.unreachable:
                    down[delivery.endpoint_id] = answer.error
            status = _record(delivery, token, answer)
            _count(report, status)
            _log(delivery, answer, status)
    report.next_due = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, endpoint__active=True
    ).aggregate(due=Min("next_attempt_at"))["due"]
    return report


def _count(report: RunReport, status: str) -> None:
    if status == DeliveryStatus.DELIVERED:
        report.delivered += 1
    elif status == DeliveryStatus.FAILED:
        report.failed += 1
    else:
        report.retried += 1


def _log(delivery: WebhookDelivery, answer: Answer, status: str) -> None:
    # Ids and the answer only: never the secret, the signature or the payload.
    if answer.ok:
        log.debug("webhook %s delivered to endpoint %s", delivery.event_id, delivery.endpoint_id)
        return
    level = logging.WARNING if status == DeliveryStatus.FAILED else logging.INFO
    log.log(
        level,
        "webhook %s to endpoint %s, attempt %d: %s (%s)",
        delivery.event_id,
        delivery.endpoint_id,
        delivery.attempts + 1,
        answer.error,
        status,
    )


def deliveries_wake() -> bool:
    """Queue a delivery run unless one is pending; never raises (the minute tick catches up)."""
    try:
        from comptoir.webhooks.tasks import webhooks_deliver_task

        now = time.time()
        if not HUEY.put_if_empty(WAKE_FLAG, now):
            stamp = HUEY.get(WAKE_FLAG, peek=True)
            if isinstance(stamp, float) and now - stamp < WAKE_STALE:
                return False
            HUEY.put(WAKE_FLAG, now)
        webhooks_deliver_task()
        return True
    except Exception:
        log.exception("could not wake the webhook sender")
        return False


def deliveries_woken() -> None:
    """Called as a run starts: wake-ups from now on queue another run."""
    HUEY.delete(WAKE_FLAG)
