"""Finding work a dead worker left behind.

- `queued` and due, but nobody is on it (the wake-up task was lost): wake the channel.
- `sending` for too long (the worker died after handing it to the provider, or before
  recording the answer): if the provider deduplicates our reference, queue it again —
  it cannot reach the customer twice; otherwise mark it `unknown` with the reason, so a
  person decides and a late receipt can still settle it. Never a blind re-send.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from comptoir.channels.models import Channel
from comptoir.dispatch.wakeup import wake
from comptoir.messaging.models import Message, MessageTransition, PendingReceipt, Status
from comptoir.messaging.receipts import pending_receipts_apply
from comptoir.providers.registry import UnknownProvider, provider_type

log = logging.getLogger(__name__)

# A due message nobody claimed for this long had its wake-up lost.
LOST_WAKE_SECONDS = 15


# The code a crash re-queue leaves in a message's history: its earlier attempt may be at
# the provider, so only that channel (which recognises the reference) may send it again.
REQUEUED_AFTER_CRASH = "requeued_after_crash"

# Receipts for ids that never show up are dropped after this long.
PENDING_RECEIPT_DAYS = 2


@dataclass
class ReapReport:
    woken: int = 0
    requeued: int = 0
    unknown: int = 0
    receipts: int = 0


def reap(*, now: dt.datetime | None = None) -> ReapReport:
    now = now or timezone.now()
    report = ReapReport()
    lost = (
        Message.objects.filter(
            status=Status.QUEUED, send_at__lte=now - dt.timedelta(seconds=LOST_WAKE_SECONDS)
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .values_list("channel_id", flat=True)
        .distinct()
    )
    for channel_id in lost:
        wake(channel_id)
        report.woken += 1

    stale_before = now - dt.timedelta(seconds=settings.COMPTOIR_SENDING_STALE_SECONDS)
    stale_channels = (
        Message.objects.filter(status=Status.SENDING, sending_at__lt=stale_before)
        .values_list("channel_id", flat=True)
        .distinct()
    )
    for channel in Channel.objects.filter(id__in=list(stale_channels)):
        try:
            idempotent = provider_type(channel.provider).idempotent_sends
        except UnknownProvider:
            idempotent = False
        with transaction.atomic():
            ids = list(
                Message.objects.filter(
                    channel=channel, status=Status.SENDING, sending_at__lt=stale_before
                )
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)
            )
            if idempotent:
                # A new claim will be taken; an answer to the lost attempt no longer counts.
                status, code = Status.QUEUED, REQUEUED_AFTER_CRASH
                extra: dict[str, object] = {"send_at": now, "claim_token": None}
                reason = _(
                    "The worker stopped while sending. The provider ignores repeated "
                    "references, so it was queued again without risk of a duplicate."
                )
                report.requeued += len(ids)
            else:
                # The claim token stays: a late answer from that send still settles it.
                status, code, extra = Status.UNKNOWN, "send_unconfirmed", {}
                reason = _(
                    "The worker stopped while sending and the provider may have accepted "
                    "this message. It was not sent again, to avoid a duplicate; a late "
                    "answer from the provider will still update it."
                )
                report.unknown += len(ids)
            Message.objects.filter(id__in=ids).update(
                status=status, error_code=code, error_reason=reason, claimed_until=None, **extra
            )
            MessageTransition.objects.bulk_create(
                MessageTransition(message_id=i, status=status, at=now, code=code, reason=reason)
                for i in ids
            )
        if idempotent and ids:
            wake(channel.id)
        log.warning(
            "reaper settled %d stale sends on channel %s as %s", len(ids), channel.id, status
        )
    report.receipts = _settle_early_receipts(now)
    return report


def _settle_early_receipts(now: dt.datetime) -> int:
    """Apply receipts whose message got its provider id since, and drop the hopeless ones."""
    expired = PendingReceipt.objects.filter(
        received_at__lt=now - dt.timedelta(days=PENDING_RECEIPT_DAYS)
    ).delete()[0]
    if expired:
        log.warning(
            "dropped %d receipts that matched no message in %d days", expired, PENDING_RECEIPT_DAYS
        )
    applied = 0
    channel_ids = PendingReceipt.objects.values_list("channel_id", flat=True).distinct()
    for channel in Channel.objects.filter(id__in=list(channel_ids)):
        applied += pending_receipts_apply(channel=channel)
    return applied
