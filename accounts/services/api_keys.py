"""Issuing and revoking API keys. The plaintext exists only in the return
value of `create_api_key`; the database keeps its hash and a short prefix."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts import key_cache
from accounts.keys import generate_key, hash_key, key_prefix
from accounts.models import KEY_LIFETIME, SCOPES, Account, ApiKey


def create_api_key(
    account: Account,
    *,
    environment: str = "live",
    name: str = "",
    scopes: list[str] | None = None,
    expires_in_days: int | None = None,
    created_by: ApiKey | None = None,
) -> tuple[ApiKey, str]:
    """Creates a key and returns (key, plaintext). Show the plaintext once.

    `created_by`: the API key making the request; the new key never outlives
    it (its expiry is capped at the creator's), so a key about to expire
    cannot mint a long-lived successor."""
    plaintext = generate_key(environment)
    now = timezone.now()
    lifetime = timedelta(days=expires_in_days) if expires_in_days else KEY_LIFETIME
    expires_at = now + lifetime
    if created_by is not None and created_by.expires_at is not None:
        expires_at = min(expires_at, created_by.expires_at)
    key = ApiKey.objects.create(
        account=account,
        name=name,
        environment=environment,
        prefix=key_prefix(plaintext),
        key_hash=hash_key(plaintext),
        scopes=list(scopes) if scopes is not None else list(SCOPES),
        created_at=now,
        expires_at=expires_at,
    )
    return key, plaintext


def revoke_api_key(key: ApiKey) -> ApiKey:
    """Revokes a key (idempotent: the first revocation time is kept)."""
    now = timezone.now()
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now)
    key_cache.forget_all()
    key.refresh_from_db(fields=["revoked_at"])
    return key


def revoke_api_keys(queryset) -> int:
    count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    key_cache.forget_all()
    return count
