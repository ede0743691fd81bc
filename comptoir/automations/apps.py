import datetime as dt

from django.apps import AppConfig


class AutomationsConfig(AppConfig):
    name = "comptoir.automations"
    label = "automations"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from comptoir.automations import fallback, outcomes, preference, voice_replies
        from comptoir.automations.defaults import seed_on_workspace_created
        from comptoir.automations.firing import MESSAGE_KIND
        from comptoir.automations.replies import appointment_replies_apply
        from comptoir.inbox.filing import conversations_receive
        from comptoir.messaging.awaiting import awaited_kind_register
        from comptoir.messaging.inbound import inbound_step_add
        from comptoir.workspaces.models import Workspace

        outcomes.register()
        fallback.register()  # a failed automation message: the rule's next channel
        preference.register()  # "1 SMS, 2 appel, 3 email" answers, before the inbox
        voice_replies.register()  # 1 / 2 pressed during a reminder's call
        # A reminder is answered within 48 h, a survey within days: replies from
        # customers sent an automation in the last week are looked at.
        awaited_kind_register(MESSAGE_KIND, dt.timedelta(days=7))
        # After the compliance keywords (an opt-out is never an answer), before the inbox
        # files the messages (an answer is marked first).
        inbound_step_add(appointment_replies_apply, before=conversations_receive)
        post_save.connect(
            seed_on_workspace_created, sender=Workspace, dispatch_uid="automations_rules_seed"
        )
