from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "comptoir.alerts"
    label = "alerts"

    def ready(self) -> None:
        from comptoir.alerts import hooks

        hooks.register()
