from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "comptoir.compliance"
    label = "compliance"

    def ready(self) -> None:
        from comptoir.compliance import provider_optout
        from comptoir.compliance.replies import keywords_apply
        from comptoir.messaging.inbound import INBOUND_STEPS

        if keywords_apply not in INBOUND_STEPS:
            INBOUND_STEPS.append(keywords_apply)
        provider_optout.register()
