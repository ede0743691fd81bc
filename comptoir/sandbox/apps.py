from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "comptoir.sandbox"
    label = "sandbox"
