from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "comptoir.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        from comptoir.messaging.inbound import inbound_step_add
        from comptoir.webhooks.events import messages_received_emit
        from comptoir.webhooks.models import WebhookEndpoint
        from comptoir.workspaces.memo import memo_sources

        # After the inbox's step (its app is listed first): messages have `.conversation`.
        inbound_step_add(messages_received_emit)
        memo_sources(WebhookEndpoint)
