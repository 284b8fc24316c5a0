"""django-q2 entry points (thin: one service call each)."""

from webhooks.services import attempts, delivery


def deliver(delivery_id: str) -> str | None:
    """One attempt of one delivery (queued on commit, by retries, by the dispatcher)."""
    return attempts.attempt_delivery(delivery_id)


def dispatch() -> dict:
    """Every minute (Schedule "webhooks.dispatch", created by a migration)."""
    return delivery.dispatch_due()
