from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "comptoir.inbox"
    label = "inbox"

    def ready(self) -> None:
        from comptoir.inbox.routing import register

        register()
