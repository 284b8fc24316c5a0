"""Event emission (SPEC §10). STUB until the webhooks work lands: the real
module writes an outbox row in the caller's transaction and queues delivery."""


def emit_job_event(job, event_type: str) -> None:
    """Records `event_type` (job.processing/completed/failed/cancelled) for `job`.
    Call inside the transaction that changes the job's state."""


def emit_account_event(account, *, livemode: bool, event_type: str, data: dict) -> None:
    """Records an account-level event (quota.warning, webhook.disabled)."""
