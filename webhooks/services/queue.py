"""Putting delivery tasks on the django-q2 queue, now or a little later.

django-q2 has no "run at" for single tasks, and its scheduler looks at
Schedule rows only every 30 s (the cluster's guard loop), with a one-minute
minimum interval. So:

* a due attempt is queued at once (``async_task``);
* a retry due within ``SHORT_DELAY_MAX`` seconds (the 5 s step, a short
  Retry-After) is queued on the ORM broker with its lock set to the due time:
  the ORM broker only hands out rows whose lock has passed, so the row waits
  in the queue table without occupying a worker;
* anything later is left to the dispatcher (``webhooks.tasks.dispatch``,
  every minute), which queues rows whose ``next_attempt_at`` has come.

The Delivery row stays the source of truth; a lost or duplicated task costs
nothing, because every attempt starts with a conditional claim.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.tasks import async_task

DELIVER_TASK = "webhooks.tasks.deliver"
# The dispatcher runs every 60 s, seen by the scheduler up to 30 s late.
SHORT_DELAY_MAX = 90.0


class _DelayedORM(ORM):
    """The ORM broker, but the row becomes visible to workers only at ``eta``."""

    def __init__(self, eta, list_key: str | None = None):
        super().__init__(list_key=list_key)
        self.eta = eta

    def enqueue(self, task):
        return self.get_connection().create(key=self.list_key, payload=task, lock=self.eta).pk


def _cluster() -> str | None:
    # A dedicated webhook cluster (Q_CLUSTER_NAME=webhooks qcluster) keeps a
    # flood of slow receivers away from the job workers entirely.
    return settings.AIPROD_WEBHOOK_Q_CLUSTER or None


def _q_options(delivery_id: str) -> dict:
    # save=False: successful runs leave no django-q2 Task row (the Delivery
    # and DeliveryAttempt rows are the record); a crashed run is still saved.
    options = {"task_name": f"deliver {delivery_id}", "group": "webhooks", "save": False}
    cluster = _cluster()
    if cluster:
        options["cluster"] = cluster
    return options


def can_delay() -> bool:
    """True when a short delay can be handed to the broker (ORM broker, not sync mode)."""
    return not Conf.SYNC and isinstance(get_broker(_cluster()), ORM)


def queues_directly(delay: float) -> bool:
    """Whether enqueue_delivery(_, delay) creates a task (else the dispatcher will)."""
    return delay <= 0 or (delay <= SHORT_DELAY_MAX and can_delay())


def enqueue_delivery(delivery_id: str, delay: float = 0.0) -> bool:
    """Queues one attempt of the delivery; False when it is left to the dispatcher."""
    if delay <= 0:
        async_task(DELIVER_TASK, delivery_id, q_options=_q_options(delivery_id))
        return True
    if queues_directly(delay):
        list_key = get_broker(_cluster()).list_key
        broker = _DelayedORM(timezone.now() + timedelta(seconds=delay), list_key=list_key)
        async_task(DELIVER_TASK, delivery_id, q_options={**_q_options(delivery_id), "broker": broker})
        return True
    return False


def enqueue_deliveries(delivery_ids) -> None:
    for delivery_id in delivery_ids:
        enqueue_delivery(delivery_id)
