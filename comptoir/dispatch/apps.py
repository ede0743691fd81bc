from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "comptoir.dispatch"
    label = "dispatch"

    def ready(self) -> None:
        from comptoir.dispatch import voice

        voice.register()
