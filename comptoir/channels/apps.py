from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "comptoir.channels"
    label = "channels"

    def ready(self) -> None:
        from comptoir.channels.models import Channel
        from comptoir.workspaces.memo import memo_sources

        memo_sources(Channel)  # the outbox keeps each workspace's default channel
