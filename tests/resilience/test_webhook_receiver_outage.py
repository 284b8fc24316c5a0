"""A customer's webhook receiver is down for a while, then back (docs/webhooks.md).

Events emitted while its port refuses connections are retried on a short
schedule and all delivered once it listens again: none lost, every event id
received (at least once; the receiver dedupes on it). Both retry paths:
short retries a real qcluster queues for itself (the ORM broker's delayed
row), and retries left to the minute dispatcher (``webhooks.tasks.dispatch``),
which is what every step longer than 90 s uses.
"""

from __future__ import annotations

import contextlib
import socket

import pytest
from django.utils import timezone

from jobs.models import Job
from jobs.services import transitions
from tests.conftest import make_persona
from tests.httpservers import serve
from tests.processes import wait_until
from tests.resilience.conftest import DedupingReceiver
from tests.webhooks.conftest import register
from webhooks import tasks as webhook_tasks
from webhooks.models import Delivery, DeliveryAttempt

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EVENTS = 8
SHORT_SCHEDULE = [0] + [1] * 20  # ~20 s of one-second retries


@contextlib.contextmanager
def refusing(port: int):
    """Holds ``port`` (bound, never listening): connections to it are refused
    and no other process can take it while the receiver is away."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        yield
    finally:
        sock.close()


def verified_receiver(persona) -> tuple[DedupingReceiver, object, int]:
    """A receiver registered and verified on a port that is then closed
    again: (receiver, endpoint, port), for the test to refuse or serve."""
    receiver = DedupingReceiver()
    with serve({"/hook": receiver}) as first:
        endpoint = register(persona, first.url + "/hook")
    receiver.secret = endpoint.secret
    return receiver, endpoint, first.port


def finish_jobs(persona, count: int) -> list[str]:
    """`count` jobs moving processing → completed, each emitting job.completed; returns their ids."""
    ids = []
    for n in range(count):
        now = timezone.now()
        job = Job.objects.create(
            account=persona.account, name=f"outage {n}", type="media.probe", requested_type="media.probe",
            input_url="https://example.com/a.mp4", timeout=300, created_month=now.date().replace(day=1),
            last_activity_at=now, status="processing", started_at=now, attempted_count=1, worker_instance="test",
        )
        assert transitions.complete_job(job, output={"n": n})
        ids.append(job.pk)
    return ids


def event_deliveries(endpoint):
    return Delivery.objects.filter(endpoint=endpoint, event__type="job.completed")


def refused_at_least_twice(endpoint) -> bool:
    deliveries = list(event_deliveries(endpoint))
    return len(deliveries) == EVENTS and all(
        DeliveryAttempt.objects.filter(delivery=d, error="Connection refused").count() >= 2 for d in deliveries
    )


def all_delivered(endpoint) -> bool:
    return set(event_deliveries(endpoint).values_list("status", flat=True)) == {"delivered"}


def assert_nothing_lost(endpoint, receiver: DedupingReceiver, job_ids: list[str]) -> None:
    received = receiver.of_type("job.completed")
    assert sorted(e["data"]["id"] for e in received) == sorted(job_ids)
    deliveries = list(event_deliveries(endpoint).select_related("event"))
    assert {d.event_id for d in deliveries} <= set(receiver.events)  # every event id arrived
    for delivery in deliveries:
        history = list(delivery.attempts.order_by("number").values_list("status", "error"))
        assert history[-1] == ("delivered", ""), history
        assert history[:-1] and set(history[:-1]) == {("failed", "Connection refused")}, history
    assert receiver.rejected == []


def test_events_sent_while_the_receiver_refuses_connections_arrive_through_a_real_worker(start_qcluster, settings):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = SHORT_SCHEDULE  # this process queues the first attempts
    schedule = ",".join(str(s) for s in SHORT_SCHEDULE)
    start_qcluster(AIPROD_Q_WORKERS=2, AIPROD_WEBHOOK_RETRY_SCHEDULE=schedule)
    persona = make_persona("pro")
    receiver, endpoint, port = verified_receiver(persona)

    with refusing(port):
        job_ids = finish_jobs(persona, EVENTS)
        wait_until(lambda: refused_at_least_twice(endpoint), timeout=30, what="every delivery to be refused twice")
        # Each retry waits in the queue as a delayed task: none is left for the dispatcher.
        assert webhook_tasks.dispatch()["queued"] == 0
        assert not all_delivered(endpoint)
    with serve({"/hook": receiver}, port=port):
        wait_until(lambda: all_delivered(endpoint), timeout=30, what="every delivery once the receiver is back")

    assert_nothing_lost(endpoint, receiver, job_ids)


def test_retries_left_to_the_dispatcher_are_delivered_once_the_receiver_is_back(transactional_db, settings):
    # django-q2 sync mode (the test settings): no broker can hold a delayed
    # task, so every retry is the dispatcher's, as steps over 90 s are in production.
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = SHORT_SCHEDULE
    persona = make_persona("pro")
    receiver, endpoint, port = verified_receiver(persona)

    def dispatch():  # what the "webhooks.dispatch" schedule runs every minute
        webhook_tasks.dispatch()
        return False

    with refusing(port):
        job_ids = finish_jobs(persona, EVENTS)
        wait_until(lambda: dispatch() or refused_at_least_twice(endpoint), timeout=30,
                   what="every delivery to be refused twice", interval=0.3)
        assert not all_delivered(endpoint)
    with serve({"/hook": receiver}, port=port):
        wait_until(lambda: dispatch() or all_delivered(endpoint), timeout=30,
                   what="the dispatcher to deliver everything", interval=0.3)

    assert_nothing_lost(endpoint, receiver, job_ids)
