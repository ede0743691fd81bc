from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "comptoir.workspaces"
    label = "workspaces"

    def ready(self) -> None:
        from comptoir.workspaces.memo import memo_sources
        from comptoir.workspaces.models import Workspace

        # A workspace's language decides which keywords it understands, among others.
        memo_sources(Workspace)
