"""Authorization: scopes, tiers, suspension, IP allow-list (docs/authentication.md)."""

import re

import pytest

from accounts.models import SCOPES, Account, IpAllowlistEntry

KEYS = "/account/api-keys"


def assert_403(response, code):
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["error"] == "Insufficient permissions for this operation"
    assert body["code"] == code
    return body


def test_a_key_without_the_scope_gets_insufficient_scope_naming_it(personas):
    reader = personas("pro", scopes=["jobs.read"])
    body = assert_403(reader.api.get(KEYS), "INSUFFICIENT_SCOPE")
    assert "keys.manage" in body["message"]


def _api_routes() -> list[tuple[str, str, str]]:
    """(method, path with placeholder ids, required scope) for every API view
    method that needs a scope, read from the URLconf itself."""
    from django.urls import URLPattern, URLResolver, get_resolver

    from accounts.permissions import required_scope
    from core.api import ApiView

    found = []

    def walk(patterns, prefix):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
                continue
            view_class = getattr(entry.callback, "view_class", None)
            if not (isinstance(entry, URLPattern) and view_class and issubclass(view_class, ApiView)):
                continue
            path = "/" + re.sub(r"<[^>]+>", "obj_x", prefix + str(entry.pattern))
            for method in ("get", "post", "patch", "put", "delete"):
                scope = required_scope(view_class, method.upper()) if hasattr(view_class, method) else None
                if scope:
                    found.append((method.upper(), path, scope))

    walk(get_resolver().url_patterns, "")
    return found


API_ROUTES = _api_routes()


def test_every_scoped_route_is_covered(db):
    # Every scope a key can hold guards at least one route, and the walk
    # found the API (a broken walk would make the test below vacuous).
    assert {scope for _, _, scope in API_ROUTES} == set(SCOPES)
    assert len(API_ROUTES) >= 20


@pytest.mark.parametrize(("method", "path", "scope"), API_ROUTES, ids=[f"{m} {p}" for m, p, _ in API_ROUTES])
def test_each_route_refuses_a_key_without_its_scope(personas, method, path, scope):
    others = [s for s in SCOPES if s != scope]
    without = personas("enterprise", scopes=others)
    body = assert_403(without.api.request(method, path, {}), "INSUFFICIENT_SCOPE")
    assert scope in body["message"]
    with_it = personas("enterprise", scopes=[scope])
    response = with_it.api.request(method, path, {})
    assert response.status_code != 403 or response.json()["code"] != "INSUFFICIENT_SCOPE", response.content


def test_current_key_works_with_any_scope(personas):
    reader = personas("free", scopes=["jobs.read"])
    response = reader.api.get("/account/api-keys/current")
    assert response.status_code == 200
    assert response.json()["scopes"] == ["jobs.read"]


def test_a_suspended_account_is_refused_on_every_request(personas):
    suspended = personas("pro", suspended=True)
    body = assert_403(suspended.api.get("/account/api-keys/current"), "ACCOUNT_SUSPENDED")
    assert "support@aiprod.com" in body["message"]
    assert_403(suspended.api.get(KEYS), "ACCOUNT_SUSPENDED")


def test_the_ip_allow_list_needs_a_paid_tier(free):
    assert_403(free.api.post("/account/security/whitelist", {"ip": "203.0.113.10"}), "TIER_REQUIRED")


class TestIpAllowList:
    @pytest.fixture
    def locked(self, pro):
        IpAllowlistEntry.objects.create(account=pro.account, cidr="203.0.113.0/24")
        IpAllowlistEntry.objects.create(account=pro.account, cidr="2001:db8::/32")
        Account.objects.filter(pk=pro.account.pk).update(ip_allowlist_enabled=True)
        return pro

    def test_an_address_inside_the_list_gets_in(self, locked):
        assert locked.api.get(KEYS, REMOTE_ADDR="203.0.113.77").status_code == 200

    def test_an_ipv6_address_inside_a_cidr_gets_in(self, locked):
        assert locked.api.get(KEYS, REMOTE_ADDR="2001:db8::1").status_code == 200

    def test_an_address_outside_is_refused_and_shown(self, locked):
        body = assert_403(locked.api.get(KEYS, REMOTE_ADDR="198.51.100.9"), "IP_NOT_ALLOWED")
        assert "198.51.100.9" in body["message"]

    def test_a_spoofed_x_forwarded_for_does_not_get_in(self, locked):
        response = locked.api.get(KEYS, REMOTE_ADDR="198.51.100.9", headers={"X-Forwarded-For": "203.0.113.5"})
        assert_403(response, "IP_NOT_ALLOWED")

    def test_a_trusted_proxys_forwarded_address_is_believed(self, locked, settings):
        import ipaddress

        settings.AIPROD_TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
        ok = locked.api.get(KEYS, REMOTE_ADDR="10.1.2.3", headers={"X-Forwarded-For": "203.0.113.5"})
        assert ok.status_code == 200
        # The right-most untrusted hop counts; a client-prepended value is ignored.
        spoofed = locked.api.get(
            KEYS, REMOTE_ADDR="10.1.2.3", headers={"X-Forwarded-For": "203.0.113.5, 198.51.100.9"}
        )
        body = assert_403(spoofed, "IP_NOT_ALLOWED")
        assert "198.51.100.9" in body["message"]

    def test_garbage_in_x_forwarded_for_falls_back_to_the_proxy(self, locked, settings):
        import ipaddress

        settings.AIPROD_TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
        response = locked.api.get(KEYS, REMOTE_ADDR="10.1.2.3", headers={"X-Forwarded-For": "not-an-ip"})
        assert_403(response, "IP_NOT_ALLOWED")
