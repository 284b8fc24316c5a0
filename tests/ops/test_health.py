"""GET /health: public, honest, and still 200 in maintenance."""

from datetime import timedelta

from django.utils import timezone

from ops.maintenance import set_maintenance
from core.version import VERSION


def test_health_is_public_and_healthy_with_version_and_timestamp(anonymous, db):
    response = anonymous.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["version"] == VERSION
    assert body["timestamp"].endswith("Z")
    assert response["X-Request-ID"].startswith("req_")


def test_health_says_maintenance_with_200_so_load_balancers_keep_routing(anonymous, db):
    until = timezone.now() + timedelta(minutes=20)
    set_maintenance(enabled=True, message="Database upgrade", until=until)
    response = anonymous.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "maintenance"
    assert body["maintenance"]["message"] == "Database upgrade"
    assert body["maintenance"]["until"].endswith("Z")


def test_health_answers_without_credentials_even_with_a_bad_key(anonymous, db):
    assert anonymous.get("/health", headers={"X-API-Key": "sk_live_nonsense"}).status_code == 200
