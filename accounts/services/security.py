"""The IP allow-list, with a guard against locking yourself out."""

from __future__ import annotations

from django.db import transaction

from accounts import key_cache
from accounts.client_ip import address_in, parse_network
from accounts.models import Account, IpAllowlistEntry
from core.errors import ApplicationError, ValidationFailed
from accounts.plans import PAID_TIERS


def normalise_cidrs(values: list[str], field: str = "ips") -> list[str]:
    cidrs, errors = [], []
    for value in values:
        try:
            cidrs.append(str(parse_network(value)))
        except (ValueError, TypeError):
            errors.append(f"{value!r} is not an IPv4/IPv6 address or CIDR")
    if errors:
        raise ValidationFailed({field: errors})
    return list(dict.fromkeys(cidrs))


def require_allowlist_feature(account: Account) -> None:
    """The IP allow-list is a Pro/Enterprise feature (docs/authentication.md)."""
    if account.tier not in PAID_TIERS:
        raise ApplicationError(
            403, "TIER_REQUIRED", "The IP allow-list needs the Pro or Enterprise plan. Upgrade your account tier"
        )


def allowlist(account: Account) -> dict:
    return {
        "enabled": account.ip_allowlist_enabled,
        "ips": list(account.ip_allowlist.values_list("cidr", flat=True)),
    }


def _guard_lockout(enabled: bool, cidrs: list[str], requester_ip: str | None, force: bool) -> None:
    if enabled and not force and not address_in(requester_ip, cidrs):
        raise ApplicationError(
            422,
            "LOCKOUT_PREVENTED",
            f"This change would block your own address ({requester_ip}). "
            'Add it to the list first, or send "force": true',
        )


@transaction.atomic
def set_allowlist(
    account: Account, *, enabled: bool | None, cidrs: list[str] | None, requester_ip: str | None, force: bool = False
) -> dict:
    """Replaces the flag and/or the whole list; refuses a self-lockout."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    current = list(account.ip_allowlist.values_list("cidr", flat=True))
    new_enabled = account.ip_allowlist_enabled if enabled is None else enabled
    new_cidrs = current if cidrs is None else cidrs
    _guard_lockout(new_enabled, new_cidrs, requester_ip, force)
    if cidrs is not None:
        account.ip_allowlist.exclude(cidr__in=new_cidrs).delete()
        IpAllowlistEntry.objects.bulk_create(
            [IpAllowlistEntry(account=account, cidr=c) for c in new_cidrs if c not in current]
        )
    if new_enabled != account.ip_allowlist_enabled:
        Account.objects.filter(pk=account.pk).update(ip_allowlist_enabled=new_enabled)
        key_cache.forget_all()
        account.ip_allowlist_enabled = new_enabled
    return allowlist(account)


@transaction.atomic
def add_allowlist_entry(account: Account, cidr: str) -> dict:
    account = Account.objects.select_for_update().get(pk=account.pk)
    IpAllowlistEntry.objects.get_or_create(account=account, cidr=cidr)
    return allowlist(account)


@transaction.atomic
def remove_allowlist_entry(account: Account, cidr: str, *, requester_ip: str | None, force: bool = False) -> dict:
    account = Account.objects.select_for_update().get(pk=account.pk)
    current = list(account.ip_allowlist.values_list("cidr", flat=True))
    if cidr not in current:
        raise ApplicationError(404, "NOT_FOUND", f"{cidr} is not on the allow-list")
    remaining = [c for c in current if c != cidr]
    _guard_lockout(account.ip_allowlist_enabled, remaining, requester_ip, force)
    account.ip_allowlist.filter(cidr=cidr).delete()
    return allowlist(account)
