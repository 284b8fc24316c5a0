"""The every-minute dispatcher (webhooks.tasks.dispatch) as a django-q2 Schedule.

One minute is the finest interval django-q2's scheduler offers (it checks its
Schedule rows every 30 s); shorter retry delays are queued directly
(webhooks/services/queue.py).
"""

from django.db import migrations
from django.utils import timezone

NAME = "webhooks.dispatch"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "webhooks.tasks.dispatch",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
