"""Response shapes of /health, /diagnostics and /api/status.json, for the
OpenAPI document only (the bodies are built as dicts in health.py,
diagnostics.py and status.py)."""

from rest_framework import serializers


class MaintenanceNoticeOut(serializers.Serializer):
    message = serializers.CharField(allow_blank=True)
    until = serializers.DateTimeField(allow_null=True)


class StorageCheckOut(serializers.Serializer):
    backend = serializers.ChoiceField(choices=["local", "s3"])
    status = serializers.ChoiceField(choices=["healthy", "down"])
    latency_ms = serializers.FloatField(allow_null=True)


class HealthOut(serializers.Serializer):
    status = serializers.ChoiceField(choices=["healthy", "unhealthy", "maintenance"])
    version = serializers.CharField()
    timestamp = serializers.DateTimeField()
    maintenance = MaintenanceNoticeOut(required=False, help_text="In maintenance mode only")
    storage = StorageCheckOut(required=False, help_text="Where job files live and whether it answers")


class DiagnosticsOut(serializers.Serializer):
    status = serializers.ChoiceField(choices=["healthy", "degraded", "unhealthy", "maintenance"])
    version = serializers.CharField()
    timestamp = serializers.DateTimeField()
    uptime_seconds = serializers.FloatField()
    database = serializers.DictField(
        help_text="status, engine, latency_ms, connection_pool_active, connection_pool_available, replication, "
        "replication_lag_ms, backup_age_hours"
    )
    queue = serializers.DictField(
        help_text="status, broker, mode, workers_alive, clusters_alive, tasks_waiting, tasks_in_progress, "
        "oldest_waiting_age_seconds; jobs_pending, jobs_processing, oldest_pending_job_age_seconds, "
        "webhook_deliveries_waiting, oldest_waiting_delivery_age_seconds, worker_clusters_alive, "
        "worker_processes_alive, worker_clusters (queue, worker: an opaque label; host and pid only in the "
        "staff view /admin/diagnostics/; workers, last_heartbeat_at, "
        "last_heartbeat_age_seconds, alive, stopping), jobs_requeued_after_worker_loss_last_hour"
    )
    storage = serializers.DictField(
        help_text="backend (local or s3), status, free_bytes, total_bytes (local), latency_ms (s3); "
        "a bucket that does not answer makes the whole answer 503 unhealthy"
    )
    external_services = serializers.DictField(help_text='{"redis": {"status", "latency_ms"}}')
    system = serializers.DictField(
        help_text="load_average, cpu_count, memory, process_rss_bytes (host name and software versions are "
        "shown to AIPROD staff only)"
    )


class StatusPageOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    url = serializers.CharField()
    time_zone = serializers.CharField()
    updated_at = serializers.DateTimeField()


class StatusIndicatorOut(serializers.Serializer):
    indicator = serializers.ChoiceField(choices=["none", "minor", "major", "critical", "maintenance"])
    description = serializers.CharField()


class StatusComponentOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"]
    )
    position = serializers.IntegerField()
    updated_at = serializers.DateTimeField()


class StatusSummaryOut(serializers.Serializer):
    """The Atlassian Statuspage summary shape."""

    page = StatusPageOut()
    status = StatusIndicatorOut()
    components = StatusComponentOut(many=True)
    incidents = serializers.ListField(child=serializers.DictField(), help_text="Unresolved incidents")
    scheduled_maintenances = serializers.ListField(
        child=serializers.DictField(), help_text="Upcoming and in-progress maintenance windows"
    )
