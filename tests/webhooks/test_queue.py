"""Delivery tasks go to the webhook cluster when one is configured
(AIPROD_WEBHOOK_Q_CLUSTER), and that cluster's worker can start."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings
from django_q.conf import Conf
from django_q.models import OrmQ

from webhooks.services.queue import enqueue_delivery

WEBHOOK_CLUSTER = "aiprod-webhooks"


def test_deliveries_are_queued_for_the_webhook_cluster_and_jobs_stay_on_the_main_one(db, settings, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)
    settings.AIPROD_WEBHOOK_Q_CLUSTER = WEBHOOK_CLUSTER
    enqueue_delivery("dlv_now")
    enqueue_delivery("dlv_soon", delay=5)
    assert sorted(OrmQ.objects.values_list("key", flat=True)) == [WEBHOOK_CLUSTER, WEBHOOK_CLUSTER]
    settings.AIPROD_WEBHOOK_Q_CLUSTER = ""
    enqueue_delivery("dlv_main")
    assert OrmQ.objects.exclude(key=WEBHOOK_CLUSTER).get().key == Conf.CLUSTER_NAME


def test_the_webhook_clusters_configuration_loads(db):
    # django-q2 reads Q_CLUSTER_NAME when its Conf is imported; without
    # Q_CLUSTER["ALT_CLUSTERS"] that import raised KeyError.
    env = {**os.environ, "Q_CLUSTER_NAME": WEBHOOK_CLUSTER, "DJANGO_SETTINGS_MODULE": "aiprod.settings"}
    probe = "import django; django.setup(); from django_q.conf import Conf; print(Conf.CLUSTER_NAME)"
    result = subprocess.run([sys.executable, "-c", probe], cwd=settings.BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == WEBHOOK_CLUSTER
