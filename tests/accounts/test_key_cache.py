"""API-key lookups are reused for AIPROD_AUTH_CACHE_SECONDS per process;
changes made in this process apply at once, changes made elsewhere within
the TTL (accounts/key_cache.py)."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import key_cache
from accounts.keys import hash_key
from accounts.models import Account, ApiKey
from accounts.selectors import api_key_by_hash
from tests.admin_urls import admin_url

CURRENT = "/account/api-keys/current"


def key_lookups(queries) -> int:
    return sum('"accounts_apikey" t' in q["sql"] or "accounts_apikey t" in q["sql"] for q in queries)


def test_a_repeated_key_is_looked_up_once(pro):
    pro.api.get(CURRENT)  # first use: the lookup, and last_used_at is written
    pro.api.get(CURRENT)  # looked up again once after that write
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            assert pro.api.get(CURRENT).status_code == 200
    assert key_lookups(queries.captured_queries) == 0


def test_with_the_cache_off_every_request_looks_the_key_up(pro, settings):
    settings.AIPROD_AUTH_CACHE_SECONDS = 0
    pro.api.get(CURRENT)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            pro.api.get(CURRENT)
    assert key_lookups(queries.captured_queries) == 3


def test_a_key_revoked_through_the_api_stops_working_at_once(pro, anonymous):
    created = pro.api.post("/account/api-keys", {"name": "temp"}).json()
    assert anonymous.get(CURRENT, key=created["key"]).status_code == 200  # now cached
    pro.api.delete(f"/account/api-keys/{created['id']}")
    assert anonymous.get(CURRENT, key=created["key"]).json()["code"] == "REVOKED_KEY"


def test_a_suspension_by_support_applies_at_once(pro, admin_client):
    assert pro.api.get(CURRENT).status_code == 200
    admin_client.post("/admin/accounts/account/", {"action": "suspend", "_selected_action": [pro.account.pk]})
    assert pro.api.get(CURRENT).status_code == 403


def test_a_tier_change_in_the_admin_applies_at_once(free, admin_client):
    assert free.api.get(CURRENT)["X-RateLimit-Limit"] == "10"
    account = free.account
    form = {
        "email": account.email, "name": account.name, "tier": "pro",
        "jobs_per_month": "", "requests_per_second": "", "data_gb_per_month": "",
        "suspended_reason": "", "user": "",
        "ip_allowlist-TOTAL_FORMS": "0", "ip_allowlist-INITIAL_FORMS": "0",
        "ip_allowlist-MIN_NUM_FORMS": "0", "ip_allowlist-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post(admin_url(account), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Account.objects.get(pk=account.pk).tier == "pro"
    assert free.api.get(CURRENT)["X-RateLimit-Limit"] == "100"


def test_a_change_made_by_another_process_applies_within_the_ttl(pro, settings, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    settings.AIPROD_AUTH_CACHE_SECONDS = 1.0
    pro.api.get(CURRENT)  # first use writes last_used_at, which drops the cached row
    assert pro.api.get(CURRENT).status_code == 200  # cached from here
    # Another process revokes it: this process's cache is not told.
    ApiKey.objects.filter(key_hash=hash_key(pro.key)).update(revoked_at="2026-01-01T00:00:00Z")
    assert pro.api.get(CURRENT).status_code == 200  # still cached
    time_machine.shift(0.99)
    assert pro.api.get(CURRENT).status_code == 200  # still within the second
    time_machine.shift(0.02)
    assert pro.api.get(CURRENT).json()["code"] == "REVOKED_KEY"


def test_a_cached_key_still_expires_on_time(pro, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    ApiKey.objects.filter(key_hash=hash_key(pro.key)).update(expires_at=timezone.now() + timedelta(seconds=2))
    pro.api.get(CURRENT)  # first use writes last_used_at, which drops the cached row
    assert pro.api.get(CURRENT).status_code == 200  # cached for 5 s from here
    time_machine.shift(1.9)
    assert pro.api.get(CURRENT).status_code == 200
    time_machine.shift(0.2)
    assert pro.api.get(CURRENT).json()["code"] == "EXPIRED_KEY"


def test_unknown_keys_are_never_cached(anonymous, db):
    key_cache.clear()
    for n in range(5):
        anonymous.get(CURRENT, key=f"sk_live_{'x' * 31}{n}")
    assert key_cache._rows == {}


def test_requests_do_not_share_model_instances(pro):
    pro.api.get(CURRENT)
    one, two = api_key_by_hash(hash_key(pro.key)), api_key_by_hash(hash_key(pro.key))
    assert one is not two and one.account is not two.account
    assert one.pk == two.pk


def test_a_clock_stepped_back_makes_a_cached_row_stale(pro, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    pro.api.get(CURRENT)
    assert pro.api.get(CURRENT).status_code == 200  # cached from here
    ApiKey.objects.filter(key_hash=hash_key(pro.key)).update(revoked_at="2026-01-01T00:00:00Z")
    time_machine.shift(-10)  # an NTP step back must not stretch the cache's life
    assert pro.api.get(CURRENT).json()["code"] == "REVOKED_KEY"
