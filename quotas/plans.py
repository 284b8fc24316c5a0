"""Plans (SPEC §7): the one place that answers "what may this account do"."""

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
    # Enterprise defaults; staff set the real values per account.
    "enterprise": Limits(jobs_per_month=100_000, requests_per_second=500, data_bytes_per_month=1000 * GB),
}

# Features that need Pro or Enterprise (SPEC §6).
PAID_TIERS = frozenset({"pro", "enterprise"})


def limits_for(account) -> Limits:
    plan = PLANS.get(account.tier, PLANS["free"])
    if account.tier != "enterprise":
        return plan
    return Limits(
        jobs_per_month=account.jobs_per_month or plan.jobs_per_month,
        requests_per_second=account.requests_per_second or plan.requests_per_second,
        data_bytes_per_month=(account.data_gb_per_month * GB) if account.data_gb_per_month else plan.data_bytes_per_month,
    )


def upgrade_hint(tier: str) -> str:
    if tier == "free":
        return f"Upgrade to Pro for {PLANS['pro'].jobs_per_month:,}/month."
    return "Contact sales@aiprod.com for Enterprise limits."
