from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "comptoir.dispatch"
    label = "dispatch"
