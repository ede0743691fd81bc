from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "comptoir.surveys"
    label = "surveys"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from comptoir.surveys.replies import register
        from comptoir.surveys.services import seed_on_workspace_created
        from comptoir.workspaces.models import Workspace

        register()
        # Connected after the automations app's (listed before us): the rules exist.
        post_save.connect(seed_on_workspace_created, sender=Workspace, dispatch_uid="surveys_seed")
