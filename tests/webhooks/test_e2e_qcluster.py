"""End to end with a real `manage.py qcluster`: a committed job change reaches
the receiver through the ORM broker, and a short retry (the 5 s step) is
queued with a delayed lock instead of waiting for the minute dispatcher."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.conf import Conf

from jobs.models import Job
from jobs.services import transitions
from tests.webhooks.conftest import register
from webhooks.models import Delivery

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def qcluster(monkeypatch):
    """A real worker cluster on the test database; tasks leave this process for it."""
    monkeypatch.setattr(Conf, "SYNC", False)
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        DJANGO_SETTINGS_MODULE="aiprod.settings",
        AIPROD_Q_WORKERS="1",
        AIPROD_Q_SYNC="0",
        AIPROD_ALLOW_INSECURE_URLS="1",
        AIPROD_WEBHOOK_RETRY_SCHEDULE="0,5",
    )
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"], cwd=settings.BASE_DIR, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        yield cluster
    finally:
        # SIGINT: a SIGTERM to the whole group kills the workers, which the
        # sentinel then restarts; the cluster takes ~40 s to give up.
        os.killpg(cluster.pid, signal.SIGINT)
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait(timeout=10)


def wait_until(condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_a_completed_job_reaches_the_receiver_through_a_real_worker(personas, receiver, qcluster, settings):
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = [0, 5]  # the same as the cluster's
    pro = personas("pro")
    endpoint = register(pro, receiver.url + "/hook")  # verification is synchronous, in this process
    answers = iter([500, 500])
    receiver.routes["/hook"] = lambda request: next(answers, 200)
    now = timezone.now()
    job = Job.objects.create(
        account=pro.account, name="e2e", type="media.probe", requested_type="media.probe",
        input_url="https://example.com/a.mp4", timeout=300, created_month=now.date().replace(day=1),
        last_activity_at=now, status="processing", started_at=now, attempted_count=1, worker_instance="test",
    )
    assert transitions.complete_job(job, output={"ok": True})

    requests = receiver.wait_for_requests(4, timeout=60)  # verification + 500 + immediate 500 + 200 after ~5 s
    events = [json.loads(r.body) for r in requests[1:]]
    assert [e["event"] for e in events] == ["job.completed"] * 3
    assert len({e["id"] for e in events}) == 1
    assert requests[3].received_at - requests[2].received_at >= 5  # waited for the 5 s step
    delivery = wait_until(lambda: Delivery.objects.filter(endpoint=endpoint, status="delivered", attempt_count=3).first())
    assert [a.status for a in delivery.attempts.order_by("number")] == ["failed", "failed", "delivered"]
    assert delivery.attempts.get(number=3).created_at.timestamp() - requests[2].received_at < 90
