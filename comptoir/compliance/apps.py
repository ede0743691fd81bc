from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "comptoir.compliance"
    label = "compliance"
