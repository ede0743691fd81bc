"""After a failed delivery, the rule's next channel: a failed-message step.

When an automation's message fails (the provider refused it, the text was undelivered,
nobody answered the call), the run's rule fallback chain gives the next channel that can
reach the customer; its message is linked to the run by the idempotency key
`automation:<run>:<channel>`, so each channel is tried at most once per run, however
often a failure is reported. The run records the channel that went last.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from comptoir.automations.choice import channels_available, next_channels
from comptoir.automations.firing import MESSAGE_KIND, run_request
from comptoir.automations.models import RunStatus, ScheduledRun
from comptoir.core.errors import ComptoirError
from comptoir.messaging.models import Medium, Message, Status
from comptoir.messaging.outbox import messages_send

log = logging.getLogger(__name__)
CHUNK = 10_000


def runs_fallback_after_failure(message_ids: Sequence[uuid.UUID]) -> int:
    """Send the next channel's message for the runs whose message failed; how many went."""
    ids = list(message_ids)
    failed = [
        message_id
        for start in range(0, len(ids), CHUNK)  # SQLite binds each id as a parameter
        for message_id in Message.objects.filter(
            id__in=ids[start : start + CHUNK], kind=MESSAGE_KIND
        ).values_list("id", flat=True)
    ]
    if not failed:
        return 0
    went = 0
    with transaction.atomic():
        runs = list(
            ScheduledRun.objects.filter(message_id__in=failed, status=RunStatus.SENT)
            .select_related("rule", "contact", "appointment", "event", "workspace")
            .select_for_update(of=("self",))
        )
        for run in runs:
            if _follow_up(run):
                went += 1
    return went


def _tried(run: ScheduledRun) -> list[str]:
    """The channels this run's messages went by (their keys: automation:<run>[:<channel>])."""
    rows = Message.objects.filter(
        workspace_id=run.workspace_id, idempotency_key__startswith=f"automation:{run.id}"
    ).values_list("medium", "channel__scheme")
    return ["voice" if medium == Medium.VOICE else scheme for medium, scheme in rows]


def _follow_up(run: ScheduledRun) -> bool:
    from comptoir.automations.firing import _check

    if not run.rule.fallback:
        return False
    status, _reason = _check(run, timezone.now(), {})
    if status:
        return False  # cancelled or past since: no second try
    workspace = run.workspace
    for channel in next_channels(run.rule, run.contact, _tried(run), channels_available(workspace)):
        try:
            with transaction.atomic():
                request = run_request(run, workspace, channel, first=False)
                message = messages_send(workspace=workspace, requests=[request])[0].message
        except ComptoirError as exc:
            log.info("run %s: fallback to %s refused: %s", run.id, channel, exc.message)
            continue
        run.message_id, run.channel = message.id, channel
        run.save(update_fields=["message", "channel", "updated_at"])
        if message.status != Status.BLOCKED:
            return True
    return False


def register() -> None:
    """Called once from the automations app's ready()."""
    from comptoir.messaging.failures import FAILED_STEPS

    if runs_fallback_after_failure not in FAILED_STEPS:
        FAILED_STEPS.append(runs_fallback_after_failure)
