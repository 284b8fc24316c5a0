"""Shared fixtures: named personas and an API client that speaks JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client

from accounts import key_cache
from accounts.authentication import forget_blocked_addresses
from accounts.models import Account
from accounts.services.accounts import create_account
from accounts.services.api_keys import create_api_key
from ops import maintenance, status


class Api:
    """A test client bound to one API key (or none)."""

    def __init__(self, key: str | None = None, **default_headers):
        self.client = Client()
        self.key = key
        self.default_headers = default_headers

    def _headers(self, headers: dict | None, key: str | None) -> dict:
        merged = dict(self.default_headers)
        use_key = key if key is not None else self.key
        if use_key is not None:
            merged["X-API-Key"] = use_key
        merged.update(headers or {})
        return merged

    def request(self, method: str, path: str, body=None, *, headers=None, key=None, content_type="application/json", **extra):
        data = json.dumps(body) if body is not None and content_type == "application/json" and not isinstance(body, (str, bytes)) else body
        call = getattr(self.client, method.lower())
        kwargs = {"headers": self._headers(headers, key), **extra}
        if method.upper() in ("GET", "HEAD"):
            return call(path, **kwargs)
        if data is None:
            return call(path, **kwargs)
        return call(path, data=data, content_type=content_type, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)


@dataclass
class Persona:
    account: Account
    key: str
    test_key: str
    api: Api
    test_api: Api


_counter = iter(range(1, 10**9))


def make_persona(tier: str = "free", *, scopes=None, suspended: bool = False, email: str | None = None) -> Persona:
    n = next(_counter)
    account = create_account(email=email or f"user{n}-{tier}@example.com", name=f"{tier} user {n}", tier=tier)
    if suspended:
        Account.objects.filter(pk=account.pk).update(suspended=True, suspended_reason="Terms violation")
        account.refresh_from_db()
    _, live = create_api_key(account, environment="live", name="live", scopes=scopes)
    _, test = create_api_key(account, environment="test", name="test", scopes=scopes)
    return Persona(account=account, key=live, test_key=test, api=Api(live), test_api=Api(test))


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Rate-limit counters must not leak between tests.
    for alias in ("default", "ratelimit"):
        try:
            if hasattr(caches[alias], "delete_pattern"):
                caches[alias].delete_pattern("*")  # only this run's prefix, unlike FLUSHDB
            else:
                caches[alias].clear()
        except Exception:
            pass
    key_cache.clear()  # nor cached key lookups
    forget_blocked_addresses()  # nor this process's blocks of guessing addresses
    # Nor the maintenance switch and status checks memoised for a few seconds:
    # a switch turned on in a rolled-back test must not answer 503 in the next,
    # and whether a request re-reads it must not depend on the test before.
    maintenance.forget()
    status.forget_checks()
    yield


@pytest.fixture
def personas(db):
    """Factory: personas("pro", scopes=[...], suspended=True)."""
    return make_persona


@pytest.fixture
def free(db) -> Persona:
    return make_persona("free")


@pytest.fixture
def pro(db) -> Persona:
    return make_persona("pro")


@pytest.fixture
def anonymous() -> Api:
    return Api()


requires_postgres = pytest.mark.skipif(not settings.IS_POSTGRES, reason="needs PostgreSQL")


@pytest.fixture(scope="module")
def s3_server():
    """A real S3 server (moto's, in a subprocess) for the module's tests."""
    from tests.s3server import S3Server

    server = S3Server().start()
    yield server
    server.stop()
