"""Plans (docs/limits.md): the one place that answers "what may this account do now".

Everything that enforces or reports a limit (rate limiter, monthly quotas,
/account/usage, /account/api-keys/current) asks `limits_for(account)`, so a
staff edit of an enterprise account's values takes effect on its next request.
It reads only fields of the already-loaded Account: no queries.
"""

from __future__ import annotations

from dataclasses import dataclass

GB = 1000**3  # data quotas are sold in decimal gigabytes


@dataclass(frozen=True)
class Limits:
    jobs_per_month: int
    requests_per_second: int
    data_bytes_per_month: int

    @property
    def data_gb_per_month(self) -> float:
        return self.data_bytes_per_month / GB


PLANS = {
    "free": Limits(jobs_per_month=100, requests_per_second=10, data_bytes_per_month=1 * GB),
    "pro": Limits(jobs_per_month=10_000, requests_per_second=100, data_bytes_per_month=100 * GB),
    # Enterprise defaults; staff set the real values per account in the admin.
    "enterprise": Limits(jobs_per_month=100_000, requests_per_second=500, data_bytes_per_month=1000 * GB),
}

# Features that need Pro or Enterprise (docs/authentication.md: the IP allow-list).
PAID_TIERS = frozenset({"pro", "enterprise"})


def limits_for(account) -> Limits:
    """The account's limits now. Enterprise fields left empty (NULL) take the
    enterprise defaults; a value staff typed, even 0, is taken as is."""
    plan = PLANS.get(account.tier, PLANS["free"])
    if account.tier != "enterprise":
        return plan

    def pick(value, default):
        return default if value is None else value

    return Limits(
        jobs_per_month=pick(account.jobs_per_month, plan.jobs_per_month),
        requests_per_second=pick(account.requests_per_second, plan.requests_per_second),
        data_bytes_per_month=(
            plan.data_bytes_per_month if account.data_gb_per_month is None else account.data_gb_per_month * GB
        ),
    )


def format_gb(nbytes: int) -> str:
    """1000000000 -> "1 GB", 1500000000 -> "1.5 GB", 10**12 -> "1,000 GB"."""
    gb = nbytes / GB
    return f"{gb:,.0f} GB" if gb == int(gb) else f"{gb:,.2f}".rstrip("0").rstrip(".") + " GB"


def upgrade_hint(tier: str, quota: str = "jobs") -> str:
    """The sentence after "Monthly ... limit (...) exceeded." telling what to do."""
    if tier == "free":
        pro = PLANS["pro"]
        if quota == "data":
            return f"Upgrade to Pro for {format_gb(pro.data_bytes_per_month)}/month."
        return f"Upgrade to Pro for {pro.jobs_per_month:,}/month."
    if tier == "pro":
        return "Contact sales@aiprod.com for Enterprise limits."
    return "Contact sales@aiprod.com to raise your Enterprise limits."
