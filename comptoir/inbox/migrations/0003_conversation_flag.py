from django.db import migrations, models
from django.db.models import Value
from django.db.models.functions import Concat, Left, Substr

# Before this migration a system flag ("Survey score 2/5") was kept in urgent_word behind
# this mark; normalised urgent words never start with it.
FLAG_MARK = "!"


def flags_out_of_urgent_word(apps, schema_editor):
    """urgent_word "!Survey score 2/5" -> flag "Survey score 2/5", and urgent_word emptied."""
    Conversation = apps.get_model("inbox", "Conversation")
    # One UPDATE: its right-hand sides all read the row as it was.
    Conversation.objects.filter(urgent_word__startswith=FLAG_MARK).update(
        flag=Substr("urgent_word", len(FLAG_MARK) + 1), urgent_word=""
    )


def flags_into_urgent_word(apps, schema_editor):
    """Back into urgent_word behind the mark (cut to its 64 characters). The old column held
    one of the two: a flag replaces an urgent word, as the filing step did then."""
    Conversation = apps.get_model("inbox", "Conversation")
    Conversation.objects.exclude(flag="").update(
        urgent_word=Left(Concat(Value(FLAG_MARK), "flag", output_field=models.CharField()), 64),
        flag="",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0002_inboxsettings_shop_address_inboxsettings_shop_phone_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="flag",
            field=models.CharField(blank=True, max_length=120),
        ),
        migrations.RunPython(flags_out_of_urgent_word, flags_into_urgent_word, elidable=True),
    ]
