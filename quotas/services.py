"""Monthly quotas (SPEC §7). STUB until the quotas work lands."""


def reserve_job(account, *, livemode: bool) -> None:
    """Counts one job in this month's quota, atomically, inside the caller's
    transaction; raises ApplicationError(422, QUOTA_EXCEEDED) when over."""


def consume_data(account, *, livemode: bool, nbytes: int) -> None:
    """Counts input bytes read; raises QuotaExceeded when past the data quota."""
