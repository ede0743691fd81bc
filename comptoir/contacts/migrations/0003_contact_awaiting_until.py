import datetime as dt

from django.db import migrations, models
from django.db.models import Max
from django.utils import timezone

# The questions sent before the field existed: their askers may still be answering.
# The windows of the kinds registered at the time (comptoir.messaging.awaiting).
WINDOWS = {"automation": dt.timedelta(days=7), "profiling_question": dt.timedelta(days=90)}


def mark_recent_questions(apps, schema_editor):
    Contact = apps.get_model("contacts", "Contact")
    Message = apps.get_model("messaging", "Message")
    now = timezone.now()
    for kind, window in WINDOWS.items():
        latest = (
            Message.objects.filter(kind=kind, created_at__gte=now - window, contact__isnull=False)
            .values("contact_id")
            .annotate(last=Max("created_at"))
        )
        for row in latest.iterator():
            until = row["last"] + window
            Contact.objects.filter(id=row["contact_id"]).exclude(awaiting_until__gt=until).update(
                awaiting_until=until
            )


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0002_purchase_spent_index"),
        ("messaging", "0003_message_kind"),
    ]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="awaiting_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(mark_recent_questions, migrations.RunPython.noop),
    ]
