"""Request-rate limiting per account (docs/limits.md): headers, 429, windows, buckets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory

from core.errors import ApplicationError
from quotas.ratelimit import consume_request
from tests.quotas.conftest import at_start_of_a_second, burst

USAGE = "/account/usage"
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def assert_rate_headers(response, limit: int):
    for name in RATE_HEADERS:
        assert name in response, f"{name} missing on {response.status_code}: {response.content[:200]}"
    assert response["X-RateLimit-Limit"] == str(limit)
    assert 0 <= int(response["X-RateLimit-Remaining"]) < limit
    assert abs(int(response["X-RateLimit-Reset"]) - time.time()) <= 2


def test_a_successful_response_carries_the_rate_headers(free):
    response = free.api.get(USAGE)
    assert response.status_code == 200
    assert_rate_headers(response, 10)


@pytest.mark.parametrize(
    "method, path, body, status",
    [
        ("GET", "/account/metrics?period=2d", None, 400),
        ("POST", "/account/security/whitelist", {"ip": "203.0.113.7"}, 403),  # TIER_REQUIRED
        ("GET", "/account/api-keys/key_doesnotexist", None, 404),
        ("DELETE", USAGE, None, 405),
    ],
)
def test_error_responses_after_authentication_carry_the_rate_headers(free, method, path, body, status):
    response = free.api.request(method, path, body)
    assert response.status_code == status, response.content
    assert_rate_headers(response, 10)


def test_a_missing_scope_403_carries_the_rate_headers(personas):
    reader = personas("free", scopes=["jobs.read"])
    response = reader.api.get(USAGE)
    assert response.status_code == 403
    assert response.json()["code"] == "INSUFFICIENT_SCOPE"
    assert_rate_headers(response, 10)


def test_a_422_carries_the_rate_headers(pro):
    response = pro.api.patch("/account/security", {"enabled": True, "ips": ["203.0.113.0/24"]})
    assert response.status_code == 422
    assert response.json()["code"] == "LOCKOUT_PREVENTED"
    assert_rate_headers(response, 100)


def test_a_quota_exceeded_create_carries_the_rate_headers_and_the_guides_message(free):
    from quotas.models import MonthlyUsage
    from core.timefmt import month_start
    from tests.httpservers import serve

    MonthlyUsage.objects.create(account=free.account, month=month_start(), jobs_count=100)
    with serve({"/a.txt": (200, {"Content-Type": "text/plain"}, b"hi")}) as srv:
        response = free.api.post("/jobs", {"name": "one too many", "input_url": srv.url + "/a.txt"})
    assert response.status_code == 422
    assert response.json()["code"] == "QUOTA_EXCEEDED"
    assert response.json()["message"] == "Monthly job limit (100) exceeded. Upgrade to Pro for 10,000/month."
    assert_rate_headers(response, 10)


def test_remaining_counts_down_within_one_window(fast, time_machine):
    responses = burst(time_machine, lambda: fast.api.get(USAGE), 3)
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0"]


def test_the_request_past_the_tiers_rate_is_429_with_retry_after_and_then_served_again(fast, time_machine):
    *served, limited = burst(time_machine, lambda: fast.api.get(USAGE), 4)
    assert [r.status_code for r in served] == [200, 200, 200]
    assert limited.status_code == 429
    body = limited.json()
    assert body["error"] == "Rate limit exceeded"
    assert body["code"] == "RATE_LIMITED"
    retry_after = int(limited["Retry-After"])
    assert retry_after >= 1
    assert body["message"] == f"Rate limit exceeded. Retry after {retry_after} second{'' if retry_after == 1 else 's'}"
    assert limited["X-RateLimit-Remaining"] == "0"
    assert limited["X-RateLimit-Limit"] == "3"

    time_machine.shift(retry_after)
    again = fast.api.get(USAGE)
    assert again.status_code == 200
    assert again["X-RateLimit-Remaining"] == "2"


def test_rate_limited_requests_are_in_the_customers_log(fast, time_machine):
    burst(time_machine, lambda: fast.api.get(USAGE), 4)
    time_machine.shift(1)  # the next window, or this request is limited too
    logs = fast.api.get("/account/logs?filter=error")
    assert [e["error_code"] for e in logs.json()["data"]].count("RATE_LIMITED") >= 1


def test_test_and_live_keys_of_one_account_share_its_rate(fast, time_machine):
    calls = iter([fast.api, fast.test_api, fast.api, fast.test_api])
    responses = burst(time_machine, lambda: next(calls).get(USAGE), 4)
    assert [r.status_code for r in responses] == [200, 200, 200, 429]


def test_accounts_do_not_share_a_bucket(fast, personas, time_machine):
    other = personas("enterprise")
    other.account.__class__.objects.filter(pk=other.account.pk).update(requests_per_second=3)
    clients = iter([fast.api] * 4 + [other.api])
    responses = burst(time_machine, lambda: next(clients).get(USAGE), 5)
    assert [r.status_code for r in responses] == [200, 200, 200, 429, 200]
    assert responses[-1]["X-RateLimit-Remaining"] == "2"


def test_staff_changing_the_enterprise_rate_applies_on_the_next_request(fast):
    assert fast.api.get(USAGE)["X-RateLimit-Limit"] == "3"
    fast.account.__class__.objects.filter(pk=fast.account.pk).update(requests_per_second=50)
    assert fast.api.get(USAGE)["X-RateLimit-Limit"] == "50"


def test_usage_reports_the_current_requests_rate_state(fast, time_machine):
    first, second = burst(time_machine, lambda: fast.api.get(USAGE), 2)
    body = second.json()
    assert body["rate_limit_remaining"] == 1 == int(second["X-RateLimit-Remaining"])
    reset = int(second["X-RateLimit-Reset"])
    assert body["rate_limit_resets_at"] == time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(reset))


# --------------------------------------------------------------------------- shared bucket

CHILD = r"""
import json, os, sys
import django
import time_machine
django.setup()
from django.test import RequestFactory
from accounts.models import Account
from core.errors import ApplicationError
from quotas.ratelimit import consume_request

account = Account(id=sys.argv[1], tier="enterprise", requests_per_second=int(sys.argv[2]))
print("ready", flush=True)
for line in sys.stdin:
    count, at = line.split()
    out = []
    with time_machine.travel(float(at), tick=False):  # the parent's stopped clock
        for _ in range(int(count)):
            try:
                state = consume_request(RequestFactory().get("/account/usage"), account)
                out.append({"status": 200, "remaining": state.remaining, "reset": state.reset})
            except ApplicationError as exc:
                out.append({"status": exc.status, "remaining": 0, "reset": int(exc.headers["X-RateLimit-Reset"])})
    print(json.dumps(out), flush=True)
"""


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs Redis (REDIS_URL)")
def test_two_processes_count_in_one_bucket(fast, time_machine):
    """A second process (another gunicorn worker or server) with the same
    Redis sees this process's count: 2 there + 2 here at 3/s is one 429.
    Both clocks stand at the same instant, so all four fall in one window."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aiprod.test_settings",
        "REDIS_URL": django_settings.REDIS_URL,
        "AIPROD_CACHE_PREFIX": django_settings.CACHES["default"]["KEY_PREFIX"],
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, fast.account.pk, "3"],
        cwd=Path(django_settings.BASE_DIR), env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        request = RequestFactory().get(USAGE)
        at_start_of_a_second(time_machine)
        child.stdin.write(f"2 {time.time()}\n")
        child.stdin.flush()
        theirs = json.loads(child.stdout.readline())
        ours = []
        for _ in range(2):
            try:
                state = consume_request(request, fast.account)
                ours.append({"status": 200, "remaining": state.remaining, "reset": state.reset})
            except ApplicationError as exc:
                ours.append({"status": exc.status, "remaining": 0, "reset": int(exc.headers["X-RateLimit-Reset"])})
    finally:
        child.stdin.close()
        child.wait(timeout=10)
    assert len({r["reset"] for r in theirs + ours}) == 1
    assert [r["status"] for r in theirs] == [200, 200]
    assert [r["remaining"] for r in theirs] == [2, 1]
    assert [r["status"] for r in ours] == [200, 429]
    assert ours[0]["remaining"] == 0


def test_the_rate_check_makes_no_database_query(fast, django_assert_num_queries):
    request = RequestFactory().get(USAGE)
    with django_assert_num_queries(0):
        state = consume_request(request, fast.account)
    assert state.limit == 3


# --------------------------------------------------------------------------- the documented client code


def documented_retry_loop() -> dict:
    """The Python snippet of docs/troubleshooting.md's "429 Too many requests",
    read from the document so that what customers copy is what runs here."""
    text = (Path(django_settings.BASE_DIR) / "docs" / "troubleshooting.md").read_text()
    section = text.split("## 429 Too many requests", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(snippet, "docs/troubleshooting.md", "exec"), namespace)  # noqa: S102 - our own document
    return namespace


def test_the_documented_retry_loop_recovers_from_a_429(fast, live_server, time_machine, monkeypatch):
    import requests

    get_with_retry = documented_retry_loop()["get_with_retry"]
    url = live_server.url + USAGE
    headers = {"X-API-Key": fast.key}
    slept = []
    # The clock stands still, and the snippet's time.sleep moves it instead of waiting.
    monkeypatch.setattr(time, "sleep", lambda seconds: (slept.append(seconds), time_machine.shift(seconds)))
    at_start_of_a_second(time_machine)
    exhausted = [requests.get(url, headers=headers) for _ in range(3)]
    response = get_with_retry(url, headers)
    assert all(r.status_code == 200 for r in exhausted)
    assert slept == [1]  # the Retry-After of the 429 it met
    assert response.status_code == 200
    assert response.json()["tier"] == "enterprise"
