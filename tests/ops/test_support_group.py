"""The Support group is created by a data migration (aiprod 0002) with
exactly the permissions of ops.support, and kept exact afterwards."""

from __future__ import annotations

import importlib

from django.apps import apps
from django.contrib.auth.models import Group
from django.db import connection

from ops.support import GROUP_NAME, support_permissions

migration = importlib.import_module("ops.migrations.0002_support_group")


def codenames(group: Group) -> set[str]:
    return set(group.permissions.values_list("content_type__app_label", "codename"))


def test_the_data_migration_creates_the_group_with_exactly_its_permissions(db):
    Group.objects.filter(name=GROUP_NAME).delete()
    with connection.schema_editor() as editor:
        migration.create_support_group(apps, editor)
    group = Group.objects.get(name=GROUP_NAME)
    expected = {(p.content_type.app_label, p.codename) for p in support_permissions()}
    assert codenames(group) == expected
    assert ("jobs", "change_job") in expected and ("webhooks", "change_delivery") in expected
    # Nothing on users or groups, no key creation, and the only deletion is an
    # allow-list entry (the inline on the account page).
    assert not {app for app, _ in expected} & {"auth"}
    assert ("accounts", "add_apikey") not in expected
    assert {code for _, code in expected if code.startswith("delete_")} == {"delete_ipallowlistentry"}


def test_reversing_the_migration_removes_the_group(db):
    with connection.schema_editor() as editor:
        migration.delete_support_group(apps, editor)
    assert not Group.objects.filter(name=GROUP_NAME).exists()
