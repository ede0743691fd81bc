from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "comptoir.compliance"
    label = "compliance"

    def ready(self) -> None:
        from comptoir.compliance import provider_optout
        from comptoir.compliance.models import WorkspaceKeyword
        from comptoir.compliance.replies import keywords_apply
        from comptoir.messaging.inbound import inbound_step_add
        from comptoir.workspaces.memo import memo_sources

        inbound_step_add(keywords_apply)
        memo_sources(WorkspaceKeyword)
        provider_optout.register()
