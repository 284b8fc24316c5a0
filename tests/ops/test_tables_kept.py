"""The operations models moved from the `aiprod` package to the `ops` app
without touching a database: same app label, same tables, same migration
names, so a database migrated before the move has nothing to do after it."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

OPS_TABLES = {
    "Incident": "aiprod_incident",
    "IncidentUpdate": "aiprod_incidentupdate",
    "MaintenanceWindow": "aiprod_maintenancewindow",
    "MaintenanceMode": "aiprod_maintenancemode",
    "BackupRecord": "aiprod_backuprecord",
}


def test_the_ops_app_keeps_the_aiprod_label_and_its_tables():
    config = apps.get_app_config("aiprod")
    assert config.name == "ops"
    assert {model.__name__: model._meta.db_table for model in config.get_models()} == OPS_TABLES


@pytest.mark.django_db
def test_a_database_migrated_before_the_move_has_nothing_left_to_apply():
    # What the code before the move recorded, by app label and migration name.
    recorded = {name for app, name in MigrationRecorder(connection).applied_migrations() if app == "aiprod"}
    assert recorded == {"0001_initial", "0002_support_group"}

    executor = MigrationExecutor(connection)
    assert executor.loader.graph.leaf_nodes("aiprod") == [("aiprod", "0002_support_group")]
    assert type(executor.loader.get_migration("aiprod", "0001_initial")).__module__ == "ops.migrations.0001_initial"
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    existing = set(connection.introspection.table_names())
    assert set(OPS_TABLES.values()) <= existing
