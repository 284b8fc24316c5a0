"""API key authentication (docs/authentication.md) as a DRF authentication class.

One indexed query on the key's SHA-256; the hash comparison is constant-time.
Every failure is a 401 with a precise code and `WWW-Authenticate`.
Repeated failures from one client address are answered 429 for a while, so
keys cannot be guessed at speed. Only failed attempts are counted and refused:
a valid key from a blocked address still passes (its own rate limit applies),
so one bad client behind a shared NAT does not lock out everyone behind it.
"""

from __future__ import annotations

import hmac
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication

from accounts import key_cache
from accounts.client_ip import client_ip
from accounts.keys import environment_of, hash_key
from accounts.models import ApiKey
from accounts.selectors import api_key_by_hash
from core.errors import WWW_AUTHENTICATE, ApplicationError, rate_limited_message, retry_after_seconds
from core.cache_breaker import cache_usage

LAST_USED_RESOLUTION = timedelta(minutes=1)


def _unauthorized(code: str, message: str) -> ApplicationError:
    return ApplicationError(401, code, message)


def _raw_credentials(request) -> str:
    """The key from X-API-Key or Authorization: Bearer, unstripped."""
    meta = request.META
    if "HTTP_X_API_KEY" in meta:
        value = meta["HTTP_X_API_KEY"]
        if not value.strip():
            raise _unauthorized("MALFORMED_CREDENTIALS", "The X-API-Key header is empty")
        return value
    authorization = meta.get("HTTP_AUTHORIZATION")
    if authorization is None:
        raise _unauthorized(
            "MISSING_CREDENTIALS",
            'No API key. Send it as "X-API-Key: sk_live_..." or "Authorization: Bearer sk_live_..."',
        )
    scheme, _, token = authorization.lstrip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or " " in token.strip():
        raise _unauthorized(
            "MALFORMED_CREDENTIALS", 'Malformed Authorization header. Use "Authorization: Bearer sk_live_..."'
        )
    return token  # may still carry white space, reported precisely by the caller


def _address(request) -> str:
    """The failure counters' and blocks' key: the client address."""
    return client_ip(request) or "unknown"


def _auth_failure_usage(request):
    # Shares the rate limiter's breaker: with the cache down this fails open
    # (None) at once instead of waiting on it for every request.
    return cache_usage(
        request,
        group="auth-failures",
        key=lambda group, req: _address(req),
        rate=settings.AIPROD_AUTH_FAILURE_LIMIT,
        increment=True,
    )


def _count_failure(request) -> None:
    """Counts a failed authentication from this address; past the limit the
    answer is 429 instead of 401, and this process answers the address's
    further failures 429 without counting them until the window ends. A valid
    key costs no cache call at all and is never refused here."""
    usage = _auth_failure_usage(request)
    if usage and usage["should_limit"]:
        wait = retry_after_seconds(usage["time_left"])
        _block(_address(request), wait)
        raise _too_many_failures(wait)


def _too_many_failures(wait: int) -> ApplicationError:
    return ApplicationError(
        429,
        "RATE_LIMITED",
        rate_limited_message(wait, " (too many failed authentications from this address)"),
        {"Retry-After": str(wait)},
    )


# Addresses whose failed attempts this process answers 429 until a time.time()
# instant (the failure counter's windows are on the same clock): filled only when the shared failure counter says an address is over
# the limit.
_blocked_until: dict[str, float] = {}
MAX_BLOCKED = 10_000


def _block(address: str, seconds: int) -> None:
    if len(_blocked_until) >= MAX_BLOCKED:
        now = time.time()
        for stale in [a for a, until in _blocked_until.items() if until <= now]:
            _blocked_until.pop(stale, None)
    _blocked_until[address] = time.time() + seconds


def _refuse_blocked(request) -> None:
    until = _blocked_until.get(_address(request))
    if until is not None:
        left = until - time.time()
        if left > 0:
            raise _too_many_failures(retry_after_seconds(left))


def forget_blocked_addresses() -> None:
    """Lifts this process's blocks (tests; the shared counters expire on their own)."""
    _blocked_until.clear()


def _sandbox_host(request) -> bool:
    host = request.META.get("HTTP_HOST", "").rsplit(":", 1)[0].lower()
    return host in settings.AIPROD_SANDBOX_HOSTS


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        django_request = request._request
        client_ip(django_request)
        try:
            return self._authenticate(django_request)
        except ApplicationError:
            # Only failures are blocked: a valid key from a blocked address
            # passes, a failure from it is a 429 without a count.
            _refuse_blocked(django_request)
            _count_failure(django_request)
            raise

    def authenticate_header(self, request):
        return WWW_AUTHENTICATE

    def _authenticate(self, request):
        raw = _raw_credentials(request)
        if raw != raw.strip():
            raise _unauthorized("MALFORMED_CREDENTIALS", "API key has leading or trailing white space; trim it")
        environment = environment_of(raw)
        if environment is None:
            raise _unauthorized(
                "INVALID_CREDENTIALS", "Invalid API key. Keys look like sk_live_... or sk_test_...; check for typos"
            )
        digest = hash_key(raw)
        key = api_key_by_hash(digest)
        if key is None or not hmac.compare_digest(key.key_hash, digest):
            raise _unauthorized("INVALID_CREDENTIALS", "Invalid API key. Check it at Account → API Keys")
        # Known key: its failures belong in the owner's request log.
        request.aiprod_account_id = key.account_id
        request.aiprod_livemode = key.livemode
        request.aiprod_key_prefix = key.prefix
        now = timezone.now()
        if key.revoked_at:
            raise _unauthorized("REVOKED_KEY", "This API key was revoked. Create a new one at Account → API Keys → New Key")
        if key.expires_at and key.expires_at <= now:
            raise _unauthorized("EXPIRED_KEY", "This API key has expired. Create a new one at Account → API Keys → New Key")
        if settings.AIPROD_SANDBOX_HOSTS:
            on_sandbox = _sandbox_host(request)
            if on_sandbox and key.livemode:
                raise _unauthorized(
                    "WRONG_ENVIRONMENT", "Live keys (sk_live_) do not work on the sandbox host; use a test key (sk_test_)"
                )
            if not on_sandbox and not key.livemode:
                raise _unauthorized(
                    "WRONG_ENVIRONMENT",
                    "Test keys (sk_test_) work only on the sandbox host; use a live key (sk_live_) in production",
                )
        self._touch(key, now)
        request.aiprod_api_key = key
        return key.account, key

    @staticmethod
    def _touch(key: ApiKey, now) -> None:
        # At most one write a minute per key: the hot path stays read-only.
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
            key_cache.forget(key.key_hash)  # its cached row still has the old time
