"""Maintenance mode: the API answers 503 MAINTENANCE with Retry-After while
health, the status page and the admin keep working."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from ops.maintenance import set_maintenance

CURRENT = "/account/api-keys/current"


def maintenance(*args) -> dict:
    out = io.StringIO()
    call_command("maintenance", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def assert_maintenance_503(response) -> dict:
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["error"] == "Service unavailable"
    assert body["code"] == "MAINTENANCE"
    assert body["request_id"] == response["X-Request-ID"]
    assert int(response["Retry-After"]) >= 1
    return body


def test_the_command_switches_the_api_into_maintenance_and_back(free):
    until = (timezone.now() + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = maintenance("on", "--until", until, "--message", "Database upgrade")
    assert result["maintenance"] is True and result["until"].startswith(until[:16])

    body = assert_maintenance_503(free.api.get(CURRENT))
    retry_after = int(free.api.get(CURRENT)["Retry-After"])
    assert 500 <= retry_after <= 600  # seconds until the announced end
    assert "Database upgrade" in body["message"] and until[:16] in body["message"]

    assert maintenance("off")["maintenance"] is False
    assert free.api.get(CURRENT).status_code == 200


def test_every_api_path_is_refused_even_without_credentials(anonymous, db):
    set_maintenance(enabled=True)
    assert_maintenance_503(anonymous.get(CURRENT))
    assert_maintenance_503(anonymous.post("/jobs", {"name": "x"}))
    assert_maintenance_503(anonymous.get("/diagnostics"))


def test_without_an_announced_end_retry_after_is_the_default(free, settings):
    settings.AIPROD_MAINTENANCE_RETRY_AFTER = 240
    set_maintenance(enabled=True)
    assert assert_maintenance_503(free.api.get(CURRENT)) and free.api.get(CURRENT)["Retry-After"] == "240"


def test_an_overrun_announces_a_short_retry(free):
    set_maintenance(enabled=True, until=timezone.now() - timedelta(minutes=1))
    assert free.api.get(CURRENT)["Retry-After"] == "60"


def test_health_status_page_docs_and_admin_keep_working(anonymous, db):
    set_maintenance(enabled=True, message="Upgrading")
    assert anonymous.get("/health").json()["status"] == "maintenance"
    assert anonymous.get("/status").status_code == 200
    assert anonymous.get("/api/status.json").json()["status"]["indicator"] == "maintenance"
    assert anonymous.get("/openapi.json").status_code == 200

    User.objects.create_superuser("root", "root@example.com", "pw-root-123")
    admin = Client()
    assert admin.get("/admin/login/").status_code == 200
    assert admin.post("/admin/login/", {"username": "root", "password": "pw-root-123", "next": "/admin/"}).status_code == 302
    assert admin.get("/admin/").status_code == 200
    assert admin.get("/admin/aiprod/maintenancemode/", follow=True).status_code == 200


def test_the_command_reports_status_and_rejects_a_bad_time(db):
    assert maintenance("status")["maintenance"] is False
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("maintenance", "on", "--until", "next tuesday")
    assert maintenance("status")["maintenance"] is False
