from django.apps import AppConfig


class AutomationsConfig(AppConfig):
    name = "comptoir.automations"
    label = "automations"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from comptoir.automations import outcomes
        from comptoir.automations.defaults import seed_on_workspace_created
        from comptoir.automations.replies import appointment_replies_apply
        from comptoir.inbox.filing import conversations_receive
        from comptoir.messaging.inbound import INBOUND_STEPS
        from comptoir.workspaces.models import Workspace

        outcomes.register()
        # After the compliance keywords (an opt-out is never an answer), before the inbox
        # files the messages (an answer is marked first).
        if appointment_replies_apply not in INBOUND_STEPS:
            if conversations_receive in INBOUND_STEPS:
                INBOUND_STEPS.insert(
                    INBOUND_STEPS.index(conversations_receive), appointment_replies_apply
                )
            else:
                INBOUND_STEPS.append(appointment_replies_apply)
        post_save.connect(
            seed_on_workspace_created, sender=Workspace, dispatch_uid="automations_rules_seed"
        )
