"""Authorization: scopes, tiers, suspension, IP allow-list (SPEC §6)."""

import pytest

from accounts.models import Account, IpAllowlistEntry

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
