"""Authorization checks, one concern each (docs/authentication.md).

Each raises ApplicationError with its own code rather than returning False,
so the customer learns exactly what to fix. A view declares what it needs:
`required_scopes = {"GET": "jobs.read"}`, `required_tier = "pro"`,
`live_key_for_writes = True`.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.client_ip import address_in, client_ip
from core.errors import ApplicationError
from accounts.plans import PAID_TIERS


class AccountActive(BasePermission):
    def has_permission(self, request, view):
        if request.user.suspended:
            reason = f" ({request.user.suspended_reason})" if request.user.suspended_reason else ""
            raise ApplicationError(
                403, "ACCOUNT_SUSPENDED", f"This account is suspended{reason}. Contact support@aiprod.com"
            )
        return True


class IpAllowed(BasePermission):
    def has_permission(self, request, view):
        account = request.user
        if not account.ip_allowlist_enabled:
            return True
        address = client_ip(request)
        cidrs = account.ip_allowlist.values_list("cidr", flat=True)
        if not address_in(address, cidrs):
            raise ApplicationError(
                403,
                "IP_NOT_ALLOWED",
                f"Requests from {address} are not allowed by this account's IP allow-list. To allow "
                f"{address}, add it on the dashboard's Security page (/dashboard/security), or call "
                "POST /account/security/whitelist from an address already on the list",
            )
        return True


def required_scope(view, method: str) -> str | None:
    scopes = getattr(view, "required_scopes", None) or {}
    if isinstance(scopes, str):
        return scopes
    return scopes.get(method) or scopes.get("*")


class HasScope(BasePermission):
    def has_permission(self, request, view):
        scope = required_scope(view, request.method)
        if scope and scope not in request.auth.scopes:
            raise ApplicationError(
                403,
                "INSUFFICIENT_SCOPE",
                f"This API key lacks the '{scope}' scope. Create a key with it at Account → API Keys → New Key",
            )
        return True


class HasTier(BasePermission):
    def has_permission(self, request, view):
        if getattr(view, "required_tier", None) and request.user.tier not in PAID_TIERS:
            raise ApplicationError(
                403, "TIER_REQUIRED", "This feature needs the Pro or Enterprise plan. Upgrade your account tier"
            )
        return True


class LiveKeyForWrites(BasePermission):
    """Account-wide settings (the IP allow-list) apply to live and test keys
    alike, so only a live key may change them: a test key reads them."""

    def has_permission(self, request, view):
        if getattr(view, "live_key_for_writes", False) and request.method not in SAFE_METHODS and not request.auth.livemode:
            raise ApplicationError(
                403,
                "LIVE_KEY_REQUIRED",
                "Account-wide security settings apply to live and test keys alike and can be changed only with a "
                "live key (sk_live_). Test keys may read them",
            )
        return True
