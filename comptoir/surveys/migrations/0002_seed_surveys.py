"""The seeded purchase survey rule of every existing workspace becomes a survey."""

from django.db import migrations

from comptoir.core.ids import uuid7


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    AutomationRule = apps.get_model("automations", "AutomationRule")
    Survey = apps.get_model("surveys", "Survey")
    for rule in AutomationRule.objects.filter(key="purchase_survey", survey__isnull=True):
        Survey.objects.create(id=uuid7(), workspace_id=rule.workspace_id, rule=rule)


class Migration(migrations.Migration):
    dependencies = [("surveys", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
