from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "comptoir.compliance"
    label = "compliance"

    def ready(self) -> None:
        from comptoir.compliance import provider_optout
        from comptoir.compliance.replies import keywords_apply
        from comptoir.messaging.inbound import inbound_step_add

        inbound_step_add(keywords_apply)
        provider_optout.register()
