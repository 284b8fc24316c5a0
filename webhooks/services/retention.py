"""Delivery-log retention (the ``prune`` command)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Event

BATCH = 2000


def prune_deliveries(older_than: timedelta) -> int:
    """Deletes events older than ``older_than`` with their deliveries and
    attempts, in batches (short transactions); returns the deliveries deleted.
    An event with a delivery still pending or in flight is kept."""
    cutoff = timezone.now() - older_than
    busy = Delivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]).values("event_id")
    deleted = 0
    while True:
        ids = list(
            Event.objects.filter(created_at__lt=cutoff).exclude(pk__in=busy).values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return deleted
        with transaction.atomic():
            DeliveryAttempt.objects.filter(delivery__event_id__in=ids).delete()
            deleted += Delivery.objects.filter(event_id__in=ids).delete()[0]
            Event.objects.filter(pk__in=ids).delete()
