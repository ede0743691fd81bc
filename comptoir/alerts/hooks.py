"""Where alerts plug in (called once, from the app's ready()): the runs a rule sends, the
customers' texts and key presses, and the webhook events they report."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

EVENTS = {
    "alert.acknowledged": _("A customer confirmed an urgent alert (1 texted or pressed)."),
    "alert.reported": _("A customer reported a problem in answer to an urgent alert (2)."),
    "alert.escalated": _(
        "An urgent alert went unanswered (or could not reach them): staff alerted."
    ),
}


def register() -> None:
    from comptoir.alerts import tasks  # noqa: F401  # the periodic task, for Huey's registry
    from comptoir.alerts.replies import ANSWER_WINDOW, alert_keypresses_apply, alert_replies_apply
    from comptoir.alerts.services import ALERT_KIND, alerts_from_runs
    from comptoir.automations.outcomes import RUNS_HOOKS
    from comptoir.inbox.filing import conversations_receive
    from comptoir.messaging.awaiting import awaited_kind_register
    from comptoir.messaging.inbound import channel_event_step_add, inbound_step_add
    from comptoir.webhooks.services import webhook_event_register

    for name, description in EVENTS.items():
        webhook_event_register(name, description)
    awaited_kind_register(ALERT_KIND, ANSWER_WINDOW)
    if alerts_from_runs not in RUNS_HOOKS:
        RUNS_HOOKS.append(alerts_from_runs)
    # After the compliance keywords and the appointment replies (their apps come first),
    # before the inbox files the messages (an answer is marked first).
    inbound_step_add(alert_replies_apply, before=conversations_receive)
    channel_event_step_add(alert_keypresses_apply)
