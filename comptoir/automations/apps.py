from django.apps import AppConfig


class AutomationsConfig(AppConfig):
    name = "comptoir.automations"
    label = "automations"
