from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "comptoir.workspaces"
    label = "workspaces"
