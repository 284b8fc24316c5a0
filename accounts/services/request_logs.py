"""The per-request log the customer reads at /account/logs."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import RequestLog


def record_request(**fields) -> None:
    """Writes one log row (one INSERT). Messages are capped to the column."""
    if fields.get("message"):
        fields["message"] = fields["message"][:500]
    RequestLog.objects.create(**fields)


def prune_request_logs(older_than: timedelta) -> int:
    cutoff = timezone.now() - older_than
    deleted, _ = RequestLog.objects.filter(created_at__lt=cutoff).delete()
    return deleted
