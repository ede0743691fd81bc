from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "comptoir.channels"
    label = "channels"
