"""Reads for webhooks. STUB until the webhooks work lands."""


def deliveries_for_job(job_id: str) -> list[dict]:
    """Every delivery attempt for the job's events, oldest first:
    [{"timestamp", "event", "delivery_id", "status", "response_code", "error", "attempt", "url"}]."""
    return []
