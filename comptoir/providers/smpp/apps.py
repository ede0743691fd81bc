from django.apps import AppConfig


class SmppConfig(AppConfig):
    """Listed in INSTALLED_APPS so the worker finds `tasks.py` (binds at start-up)."""

    name = "comptoir.providers.smpp"
    label = "smpp"
    verbose_name = "SMPP provider"
