"""What automations report to the shop's software: outgoing webhooks, in the caller's
transaction (signed and retried by comptoir.webhooks), one insert per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _

from comptoir.automations.models import Appointment, ScheduledRun
from comptoir.webhooks.services import webhook_event_register, webhooks_emit

EVENTS = {
    "appointment.confirmed": _("A customer confirmed an appointment by answering its reminder."),
    "appointment.cancelled": _("A customer cancelled an appointment by answering its reminder."),
    "reminder.sent": _("An automation rule queued its message (reminder, confirmation…)."),
    "run.skipped": _("An automation rule did not send, with the reason."),
}


def register() -> None:
    for name, description in EVENTS.items():
        webhook_event_register(name, description)


def appointment_payload(
    appointment: Appointment, *, source: str, message_id: Any
) -> dict[str, Any]:
    contact = appointment.contact
    return {
        "appointment_id": appointment.id,
        "external_id": appointment.external_id or None,
        "starts_at": appointment.starts_at,
        "place": appointment.place,
        "status": appointment.status,
        "contact": {"id": contact.id, "phone": contact.phone},
        "source": source,  # "reply": the customer answered the reminder
        "message_id": message_id,
    }


def run_payload(run: ScheduledRun) -> dict[str, Any]:
    rule = run.rule
    return {
        "run_id": run.id,
        "rule": {"id": rule.id, "key": rule.key or None, "name": rule.name},
        "trigger": rule.trigger,
        "contact": {"id": run.contact_id},
        "appointment_id": run.appointment_id,
        "event_id": run.event.external_id if run.event is not None else None,
        "due_at": run.due_at,
        "status": run.status,
        "reason": run.reason or None,
        "message_id": run.message_id,
    }


# Called with each outcome ("reminder.sent", "run.skipped") and its runs, in the firing
# transaction (urgent alerts follow the rules' messages up).
RUNS_HOOKS: list[Callable[[str, Sequence[ScheduledRun]], None]] = []


def _emit(event_type: str, runs: Sequence[ScheduledRun]) -> None:
    by_workspace: dict[Any, list[ScheduledRun]] = defaultdict(list)
    for run in runs:
        by_workspace[run.workspace_id].append(run)
    for workspace_id, group in by_workspace.items():
        webhooks_emit(workspace_id, [(event_type, run_payload(r)) for r in group])
    for hook in RUNS_HOOKS:
        hook(event_type, runs)


def runs_skipped_emit(runs: Sequence[ScheduledRun]) -> None:
    _emit("run.skipped", runs)


def runs_sent_emit(runs: Sequence[ScheduledRun]) -> None:
    _emit("reminder.sent", runs)
