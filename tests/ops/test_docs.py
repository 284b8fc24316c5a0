"""OpenAPI docs work offline: Swagger UI comes from drf-spectacular-sidecar."""

import re

from django.contrib.staticfiles import finders


def test_the_schema_is_public_and_lists_health_diagnostics_and_status(anonymous, db):
    response = anonymous.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/health", "/diagnostics", "/api/status.json"):
        assert path in paths, sorted(paths)
    assert paths["/health"]["get"].get("security", [{}]) == [{}]  # no key needed
    assert paths["/diagnostics"]["get"]["security"] != [{}]


def test_swagger_ui_is_served_from_this_site_not_a_cdn(anonymous, db):
    response = anonymous.get("/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)
    assets = re.findall(r'(?:src|href)="/static/([^"?]+)', html)
    assert any("swagger-ui-bundle.js" in asset for asset in assets), assets
    for asset in assets:
        assert finders.find(asset), f"{asset} is not shipped with the app"
