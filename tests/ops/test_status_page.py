"""The status page: /api/status.json in the Statuspage shape and /status."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from accounts.models import RequestLog
from ops.models import Incident, IncidentUpdate, MaintenanceWindow
from ops.incidents import resolve_incident
from ops.maintenance import set_maintenance

COMPONENT_STATUSES = {"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}


def summary(client) -> dict:
    response = client.get("/api/status.json")
    assert response.status_code == 200, response.content
    return response.json()


def component(body: dict, cid: str) -> str:
    return next(c["status"] for c in body["components"] if c["id"] == cid)


def post_incident(impact="major", components=("jobs",), status="investigating") -> Incident:
    incident = Incident.objects.create(name="Jobs stuck in processing", impact=impact, status=status,
                                       components=list(components))
    IncidentUpdate.objects.create(incident=incident, status=status, body="We are looking into it.")
    return incident


def test_status_json_has_the_statuspage_shape_and_is_public(anonymous, db):
    response = anonymous.get("/api/status.json")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    body = response.json()
    assert set(body) == {"page", "status", "components", "incidents", "scheduled_maintenances"}
    assert body["page"]["url"].endswith("/status")
    assert body["page"]["updated_at"].endswith("Z")
    assert [c["id"] for c in body["components"]] == ["api", "jobs", "webhooks", "database"]
    assert [c["name"] for c in body["components"]] == ["API", "Job processing", "Webhooks", "Database"]
    for item in body["components"]:
        assert item["status"] in COMPONENT_STATUSES
        assert item["updated_at"].endswith("Z")
    assert body["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert body["incidents"] == [] and body["scheduled_maintenances"] == []


def test_an_incident_raises_the_indicator_and_its_components_until_resolved(anonymous, db):
    incident = post_incident(impact="major", components=["jobs", "webhooks"])
    body = summary(anonymous)
    assert body["status"]["indicator"] == "major"
    assert component(body, "jobs") == component(body, "webhooks") == "partial_outage"
    assert component(body, "api") == "operational"
    [shown] = body["incidents"]
    assert shown["id"] == incident.id and shown["status"] == "investigating" and shown["impact"] == "major"
    assert shown["incident_updates"][0]["body"] == "We are looking into it."
    assert {c["id"] for c in shown["components"]} == {"jobs", "webhooks"}

    assert resolve_incident(incident)
    body = summary(anonymous)
    assert body["status"]["indicator"] == "none"
    assert body["incidents"] == []
    assert Incident.objects.get().resolved_at is not None


def test_a_critical_incident_is_a_major_service_outage(anonymous, db):
    post_incident(impact="critical", components=["api"])
    body = summary(anonymous)
    assert body["status"] == {"indicator": "critical", "description": "Major Service Outage"}
    assert component(body, "api") == "major_outage"


def test_maintenance_mode_sets_the_maintenance_indicator_and_lists_it(anonymous, db):
    until = timezone.now() + timedelta(minutes=30)
    set_maintenance(enabled=True, message="Database upgrade", until=until)
    body = summary(anonymous)
    assert body["status"] == {"indicator": "maintenance", "description": "Service Under Maintenance"}
    assert component(body, "api") == "under_maintenance"
    [switch] = body["scheduled_maintenances"]
    assert switch["status"] == "in_progress" and switch["name"] == "Database upgrade"
    assert switch["scheduled_until"].endswith("Z")

    set_maintenance(enabled=False)
    assert summary(anonymous)["status"]["indicator"] == "none"


def test_maintenance_windows_are_announced_and_mark_components_while_in_progress(anonymous, db):
    now = timezone.now()
    MaintenanceWindow.objects.create(name="Queue migration", description="Jobs pause for 10 minutes",
                                     scheduled_for=now + timedelta(days=1), scheduled_until=now + timedelta(days=1, hours=1),
                                     components=["jobs"])
    body = summary(anonymous)
    [upcoming] = body["scheduled_maintenances"]
    assert upcoming["status"] == "scheduled"
    assert upcoming["incident_updates"][0]["body"] == "Jobs pause for 10 minutes"
    assert body["status"]["indicator"] == "none"

    MaintenanceWindow.objects.create(name="Webhook workers", scheduled_for=now - timedelta(minutes=5),
                                     scheduled_until=now + timedelta(minutes=25), components=["webhooks"])
    MaintenanceWindow.objects.create(name="Over", scheduled_for=now - timedelta(hours=2),
                                     scheduled_until=now - timedelta(hours=1), components=["api"])
    body = summary(anonymous)
    assert [m["status"] for m in body["scheduled_maintenances"]] == ["in_progress", "scheduled"]
    assert component(body, "webhooks") == "under_maintenance"
    assert component(body, "api") == "operational"
    assert body["status"]["indicator"] == "maintenance"


def test_a_burst_of_server_errors_in_the_request_log_degrades_the_api(anonymous, free):
    RequestLog.objects.bulk_create(
        RequestLog(request_id=f"req_{i}", account=free.account, method="GET", path="/jobs", status=500 if i < 15 else 200)
        for i in range(30)
    )
    body = summary(anonymous)
    assert component(body, "api") == "partial_outage"
    assert body["status"]["indicator"] == "major"


def test_the_status_page_renders_without_external_assets(anonymous, db):
    post_incident(impact="minor", components=["webhooks"])
    response = anonymous.get("/status")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "Minor Service Outage" in html
    assert "Jobs stuck in processing" in html and "We are looking into it." in html
    assert "Degraded performance" in html
    # Every src/href stays on this site: the page works when a CDN does not.
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)
