from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "comptoir.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        from comptoir.messaging.inbound import INBOUND_STEPS
        from comptoir.webhooks.events import messages_received_emit

        # After the inbox's step (its app is listed first): messages have `.conversation`.
        if messages_received_emit not in INBOUND_STEPS:
            INBOUND_STEPS.append(messages_received_emit)
