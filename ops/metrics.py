"""GET /metrics (docs/operations.md): the Prometheus text format for operators.

Never public: with neither AIPROD_METRICS_TOKEN nor AIPROD_METRICS_ALLOWED_NETWORKS
set the route answers 404 as if it did not exist. Once configured, a scrape
passes with ``Authorization: Bearer <token>`` or from an allowed network
(the client address as accounts/client_ip.py finds it, trusted-proxy aware).

Counters and histograms come from every process (core/metrics.py); the
queue gauges are read from the database at scrape time by the process that
answers, so they are never stale and never summed over workers.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily
from rest_framework.views import APIView

from accounts.client_ip import client_ip
from core import metrics
from core.errors import ApplicationError, not_found
from core.openapi import api_doc

logger = logging.getLogger(__name__)


def check_access(request) -> None:
    """Raises 404 while metrics are not configured, 401 for a wrong bearer
    token, 403 for an address outside the allowed networks; returns when the
    scrape may proceed."""
    token = settings.AIPROD_METRICS_TOKEN
    networks = settings.AIPROD_METRICS_ALLOWED_NETWORKS
    if not token and not networks:
        raise not_found("Page")
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header:
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return
        raise ApplicationError(401, "INVALID_CREDENTIALS", "Wrong metrics token: send Authorization: Bearer "
                               "<AIPROD_METRICS_TOKEN>", headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    address = client_ip(request)
    if address and networks and any(ipaddress.ip_address(address) in net for net in networks):
        return
    if token:
        raise ApplicationError(401, "MISSING_CREDENTIALS", "Send Authorization: Bearer <AIPROD_METRICS_TOKEN>",
                               headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    raise ApplicationError(403, "IP_NOT_ALLOWED", f"{address} is not in AIPROD_METRICS_ALLOWED_NETWORKS")


class QueueCollector:
    """Job and task queue gauges, read from PostgreSQL at each scrape."""

    def collect(self):
        from django_q.models import OrmQ

        from jobs.models import ACTIVE_STATUSES, Job, JobStatus
        from webhooks.models import Delivery, DeliveryStatus

        now = timezone.now()
        jobs = GaugeMetricFamily("aiprod_jobs_active", "Jobs pending or processing, by type", labels=["status", "type"])
        oldest = GaugeMetricFamily(
            "aiprod_jobs_oldest_pending_age_seconds", "How long the oldest pending job has waited (0: none)"
        )
        tasks = GaugeMetricFamily("aiprod_queue_tasks", "django-q2 tasks in the queue (jobs and deliveries)")
        due = GaugeMetricFamily("aiprod_webhook_deliveries_due", "Webhook deliveries whose next attempt is due now")
        try:
            # The partial index job_active_activity keeps these to the active rows.
            counts = Job.objects.filter(status__in=ACTIVE_STATUSES).values("status", "type").annotate(n=Count("id"))
            waited = Job.objects.filter(status=JobStatus.PENDING).aggregate(since=Min("last_activity_at"))["since"]
            queued = OrmQ.objects.count()
            # The partial index whdelivery_due covers exactly these rows.
            overdue = Delivery.objects.filter(
                status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED], next_attempt_at__lte=now
            ).count()
        except DatabaseError:
            logger.warning("queue metrics unreadable", exc_info=True)
            return
        for row in counts:
            jobs.add_metric([row["status"], row["type"]], row["n"])
        oldest.add_metric([], max(0.0, (now - waited).total_seconds()) if waited else 0.0)
        tasks.add_metric([], queued)
        due.add_metric([], overdue)
        yield from (jobs, oldest, tasks, due)


class MetricsView(APIView):
    """No API key: operators' scrapers authenticate with the metrics token or their network."""

    authentication_classes: list = []
    permission_classes: list = []

    @api_doc(
        summary="Prometheus metrics (text format); needs AIPROD_METRICS_TOKEN as a bearer token or an address in "
        "AIPROD_METRICS_ALLOWED_NETWORKS, and answers 404 while neither is set",
        response={"text/plain": OpenApiResponse(OpenApiTypes.STR, description="Prometheus text format 0.0.4")},
        public=True, errors=(401, 403, 404), auth=[],
        parameters=[OpenApiParameter("Authorization", OpenApiTypes.STR, OpenApiParameter.HEADER,
                                     description="Bearer <AIPROD_METRICS_TOKEN>")],
    )
    def get(self, request):
        check_access(request._request)
        body = metrics.exposition(QueueCollector())
        return HttpResponse(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
