"""The "Support" group for the admin (docs/operations.md), created with exactly the
permissions of ops.support.GRANTS.

Permissions are normally written by post_migrate, after every migration has
run; this migration writes the content types and permissions it needs first
(both steps are idempotent). A post_migrate handler keeps the group exact
as models are added later (see ops/support.py).
"""

from django.db import migrations


def create_support_group(apps, schema_editor):
    from django.apps import apps as current_apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    from ops.support import ensure_support_group

    using = schema_editor.connection.alias
    for app_config in current_apps.get_app_configs():
        create_contenttypes(app_config, verbosity=0, using=using)
        create_permissions(app_config, verbosity=0, using=using)
    ensure_support_group()


def delete_support_group(apps, schema_editor):
    from ops.support import GROUP_NAME

    apps.get_model("auth", "Group").objects.filter(name=GROUP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("aiprod", "0001_initial"),
        ("accounts", "0001_initial"),
        ("jobs", "0003_job_data_bytes_counted"),
        ("webhooks", "0003_endpoint_backoff"),
        ("quotas", "0001_initial"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_support_group, delete_support_group)]
