"""Sending what is due: claim due runs in batches, check them again, queue their messages.

A batch is one transaction: the claim (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two
workers never take the same run; SQLite serialises writers), the messages through the
outbox (compliance applies there), and the runs marked. A crash anywhere rolls all of
it back, and each message carries the idempotency key `automation:<run id>`, so a run
fired again finds its message instead of sending a second one.

Checked again at fire time, because things change after planning: the rule is still on,
the appointment is neither cancelled nor past, the conditions still hold.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Min
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from comptoir.automations.choice import (
    FIXABLE_CODES,
    VOICE,
    channel_plan,
    channels_available,
    request_for,
)
from comptoir.automations.models import (
    AppointmentStatus,
    RulePurpose,
    RunStatus,
    ScheduledRun,
)
from comptoir.automations.outcomes import runs_sent_emit, runs_skipped_emit
from comptoir.automations.planning import contact_tz
from comptoir.automations.rules import conditions_hold
from comptoir.automations.voice_replies import is_reminder, spoken_reminder
from comptoir.contacts.models import Contact
from comptoir.core.bulk import update_objects
from comptoir.core.errors import ComptoirError, Conflict, NotFound
from comptoir.messaging.models import Purpose, Status
from comptoir.messaging.outbox import SendRequest, messages_send
from comptoir.messaging.templating import render
from comptoir.workspaces.models import Workspace

BATCH = 200
# A run found this late (the workers were down) is skipped: a birthday wish a day late,
# a "tomorrow" reminder the same evening, would be wrong.
MAX_LATE = dt.timedelta(hours=12)
RUN_BUDGET = 20.0  # seconds a pass keeps claiming before it hands over to the next
MESSAGE_KIND = "automation"
RUN_FIELDS = ("status", "reason", "fired_at", "message_id", "channel", "updated_at")


@dataclass
class FireReport:
    sent: int = 0
    skipped: int = 0
    cancelled: int = 0
    batches: int = 0
    more: bool = False


def template_values(run: ScheduledRun, workspace: Workspace, language: str) -> dict[str, str]:
    """What a template may say about this run: the contact, the shop, the subject."""
    contact = run.contact
    values = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "shop": workspace.name,
    }
    appointment = run.appointment
    if appointment is not None:
        local = appointment.starts_at.astimezone(contact_tz(contact, workspace))
        with translation.override(language):
            values["date"] = formats.date_format(local, "DATE_FORMAT")
            values["time"] = formats.time_format(local, "TIME_FORMAT")
        values["place"] = appointment.place
        values["service"] = appointment.service
    data = run.event.data if run.event is not None else {}
    values.setdefault("place", str(data.get("place") or ""))
    values["order_number"] = str(data.get("order_number") or "")
    values["amount"] = str(data.get("amount") or "")
    return values


def _language(run: ScheduledRun, workspace: Workspace) -> str:
    templates = run.rule.templates
    for language in (run.contact.language, workspace.language, "en"):
        if language and language in templates:
            return language
    return next(iter(templates))


def _check(run: ScheduledRun, now: dt.datetime, tags: dict[Any, set[str]]) -> tuple[str, str]:
    """(status, reason) when the run must not send now; ("", "") when it may."""
    if not run.rule.enabled:
        return RunStatus.SKIPPED, "rule_disabled"
    appointment = run.appointment
    if appointment is not None:
        if appointment.status == AppointmentStatus.CANCELLED:
            return RunStatus.CANCELLED, "appointment_cancelled"
        if appointment.starts_at <= now:
            return RunStatus.SKIPPED, "appointment_past"
    if now - run.due_at > MAX_LATE:
        return RunStatus.SKIPPED, "too_late"
    if not conditions_hold(run.rule.conditions, run.contact, tags.get(run.contact_id, set())):
        return RunStatus.SKIPPED, "conditions"
    return "", ""


def _tags(runs: Sequence[ScheduledRun]) -> dict[Any, set[str]]:
    """Tag names (lower case) of the contacts whose rules test tags: one query, if any."""
    ids = {r.contact_id for r in runs if any(c["op"] == "has_tag" for c in r.rule.conditions)}
    found: dict[Any, set[str]] = defaultdict(set)
    if ids:
        for contact_id, name in Contact.tags.through.objects.filter(contact_id__in=ids).values_list(
            "contact_id", "tag__name"
        ):
            found[contact_id].add(name.lower())
    return found


def run_key(run: ScheduledRun, channel: str, first: bool) -> str:
    """The idempotency key of a run's message: one per run, then one per fallback channel."""
    return f"automation:{run.id}" if first else f"automation:{run.id}:{channel}"


def run_request(
    run: ScheduledRun, workspace: Workspace, channel: str, *, first: bool = True
) -> SendRequest:
    """The run's message by `channel` (sms, voice, email): the template in their language."""
    language = _language(run, workspace)
    body = render(run.rule.templates[language], template_values(run, workspace, language))
    marketing = run.rule.purpose == RulePurpose.MARKETING
    keys = channel == VOICE and is_reminder(run.rule)
    if keys:  # a landline cannot text C or A: it presses 1 or 2 (voice_replies)
        body = spoken_reminder(body, language)
    return request_for(
        channel,
        contact_id=str(run.contact_id),
        body=body,
        purpose=Purpose.MARKETING if marketing else Purpose.TRANSACTIONAL,
        key=run_key(run, channel, first),
        kind=MESSAGE_KIND,
        gather_digits=1 if keys else 0,
    )


def _send(workspace: Workspace, runs: list[ScheduledRun], now: dt.datetime) -> None:
    """Queue the runs' messages, each on the first channel of its plan that is allowed:
    a round per channel rank, the runs refused for a reason the next channel fixes going
    to the next round."""
    available = channels_available(workspace)
    plans = {run.id: channel_plan(run.rule, run.contact, available) for run in runs}
    todo, rank = list(runs), 0
    while todo:
        todo = _send_round(workspace, todo, plans, rank)
        rank += 1


def _send_round(
    workspace: Workspace, runs: list[ScheduledRun], plans: dict[Any, list[str]], rank: int
) -> list[ScheduledRun]:
    """One message per run on its plan's channel number `rank`; the runs to try again."""
    again: list[ScheduledRun] = []

    def refused(run: ScheduledRun, code: str) -> None:
        if rank + 1 < len(plans[run.id]) and (code in FIXABLE_CODES or code.startswith("!")):
            again.append(run)
        else:
            run.status, run.reason = RunStatus.SKIPPED, code.lstrip("!")[:40]

    ready: list[tuple[ScheduledRun, SendRequest]] = []
    for run in runs:
        channel = plans[run.id][rank]
        try:
            ready.append((run, run_request(run, workspace, channel, first=rank == 0)))
        except ComptoirError as exc:
            run.status, run.reason = RunStatus.SKIPPED, exc.code[:40]
    if not ready:
        return again
    try:
        with transaction.atomic():
            results = messages_send(workspace=workspace, requests=[r for _, r in ready])
        pairs = list(zip([run for run, _ in ready], results, strict=True))
    except ComptoirError:
        pairs = []
        for run, request in ready:
            try:
                with transaction.atomic():
                    pairs.append((run, messages_send(workspace=workspace, requests=[request])[0]))
            except ComptoirError as exc:
                # About this channel (no email address, no channel that calls): "!" marks
                # it fixable by the next one.
                refused(run, "!" + exc.code)
    for run, result in pairs:
        message = result.message
        run.message_id = message.id
        run.channel = plans[run.id][rank]
        if message.status == Status.BLOCKED:
            refused(run, message.error_code or "blocked")
        else:
            run.status = RunStatus.SENT
    return again


def runs_fire(runs: Sequence[ScheduledRun], *, now: dt.datetime | None = None) -> FireReport:
    """Check and send these runs (claimed by the caller, inside its transaction)."""
    now = now or timezone.now()
    report = FireReport()
    tags = _tags(runs)
    by_workspace: dict[Any, list[ScheduledRun]] = defaultdict(list)
    for run in runs:
        run.fired_at = now
        run.updated_at = now
        status, reason = _check(run, now, tags)
        if status:
            run.status, run.reason = status, reason
        else:
            by_workspace[run.workspace_id].append(run)
    for group in by_workspace.values():
        _send(group[0].workspace, group, now)
    update_objects(list(runs), RUN_FIELDS)
    sent = [r for r in runs if r.status == RunStatus.SENT]
    skipped = [r for r in runs if r.status == RunStatus.SKIPPED]
    runs_sent_emit(sent)
    runs_skipped_emit(skipped)
    report.sent, report.skipped = len(sent), len(skipped)
    report.cancelled = len(runs) - len(sent) - len(skipped)
    return report


def runs_claim(
    now: dt.datetime, size: int = BATCH, workspace: Workspace | None = None
) -> list[ScheduledRun]:
    """Due pending runs with what firing reads, locked, oldest first: one query."""
    due = ScheduledRun.objects.filter(status=RunStatus.PENDING, due_at__lte=now)
    if workspace is not None:
        due = due.filter(workspace=workspace)
    return list(
        due.select_related("rule", "contact", "appointment", "event", "workspace")
        .order_by("due_at")
        .select_for_update(skip_locked=True, of=("self",))[:size]
    )


def runs_fire_due(
    *,
    now: dt.datetime | None = None,
    size: int = BATCH,
    budget: float = RUN_BUDGET,
    workspace: Workspace | None = None,
) -> FireReport:
    """Fire every due run (of one workspace, or all), batch after batch, until none is
    due or the budget is spent."""
    report = FireReport()
    started = time.monotonic()
    while True:
        moment = now or timezone.now()
        with transaction.atomic():
            claimed = runs_claim(moment, size, workspace)
            if claimed:
                batch = runs_fire(claimed, now=moment)
        if not claimed:
            return report
        report.batches += 1
        report.sent += batch.sent
        report.skipped += batch.skipped
        report.cancelled += batch.cancelled
        if len(claimed) < size:
            return report
        if time.monotonic() - started > budget:
            report.more = True
            return report


def next_due() -> dt.datetime | None:
    """When the next pending run is due (the (status, due_at) index answers it)."""
    found: dt.datetime | None = ScheduledRun.objects.filter(status=RunStatus.PENDING).aggregate(
        first=Min("due_at")
    )["first"]
    return found


def run_send_now(*, workspace: Workspace, run_id: Any) -> ScheduledRun:
    """Fire one pending run before its time (the demo's "send now"); checks still apply."""
    with transaction.atomic():
        run = (
            ScheduledRun.objects.for_workspace(workspace)
            .filter(id=run_id)
            .select_related("rule", "contact", "appointment", "event", "workspace")
            .select_for_update(of=("self",))
            .first()
        )
        if run is None:
            raise NotFound(_("No such run."), field="run_id")
        if run.status != RunStatus.PENDING:
            raise Conflict(
                _("This run is no longer pending (%(status)s).") % {"status": run.status}
            )
        now = timezone.now()
        run.due_at = now
        ScheduledRun.objects.filter(id=run.id).update(due_at=now)
        runs_fire([run], now=now)
    return run
