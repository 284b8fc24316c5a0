"""Jobs in the admin (docs/operations.md): find stuck ones, force-timeout, retry, and
read a job's whole story. Jobs are made by the API only (no add), and
changed only through the same services the API uses (every field read-only)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin_base import ReadOnlyAdmin, SafeLookupsAdmin
from core.errors import ApplicationError
from jobs import selectors
from jobs.models import Job, JobStatus, Upload, WorkerHeartbeat
from jobs.services.transitions import retry_job, timeout_job


class StuckFilter(admin.SimpleListFilter):
    title = "stuck"
    parameter_name = "stuck"

    def lookups(self, request, model_admin):
        return [("24h", "Stuck > 24 h (processing, no activity)")]

    def queryset(self, request, queryset):
        if self.value() == "24h":
            cutoff = timezone.now() - timedelta(hours=selectors.STUCK_AFTER_HOURS)
            return queryset.filter(status=JobStatus.PROCESSING, last_activity_at__lt=cutoff)
        return queryset


@admin.register(Job)
class JobAdmin(SafeLookupsAdmin):
    list_display = ["id", "name", "account", "livemode", "type", "status", "attempted_count",
                    "worker_instance", "last_activity_at", "created_at"]
    list_filter = ["status", "type", StuckFilter, "livemode", ("account", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["id", "name", "account__email", "account__id"]
    list_select_related = ["account"]
    ordering = ["-created_at", "-id"]
    show_full_result_count = False
    actions = ["force_timeout", "retry"]
    fieldsets = [
        (None, {"fields": ["id", "account", "livemode", "name", "requested_type", "type", "status", "progress",
                           "error", "error_code"]}),
        ("Input", {"fields": ["input_url", "input_filename", "input_content_type", "input_size_bytes",
                              "input_kind", "input_file", "params", "timeout", "webhook_url", "metadata"]}),
        ("Output", {"fields": ["output", "output_file", "output_content_type"]}),
        ("Worker", {"fields": ["attempted_count", "attempt_base", "worker_instance", "cancel_requested",
                               "created_at", "started_at", "completed_at", "last_activity_at", "duration_ms"]}),
        ("Timeline", {"fields": ["timeline"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Job._meta.fields] + ["timeline"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Timeline")
    def timeline(self, job: Job):
        rows = []
        for entry in selectors.timeline_for(job, staff=True):
            kind = entry["kind"]
            if kind == "request":
                what = f"{entry['method']} {entry['path']} → {entry['status']}"
                who = entry["request_id"]
            elif kind == "state_change":
                what = f"{entry['from_status'] or '—'} → {entry['to_status']}"
                if entry.get("reason"):
                    what += f": {entry['reason']}"
                who = f"{entry.get('actor') or ''} {entry.get('worker') or ''} (attempt {entry['attempt']})"
            else:
                what = f"{entry.get('event')} → {entry.get('status')} {entry.get('response_code') or ''} " \
                       f"{entry.get('error') or ''}"
                who = entry.get("url") or entry.get("delivery_id") or ""
            rows.append((entry["timestamp"], kind, what, who))
        if not rows:
            return "—"
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            "<table><thead><tr><th>When</th><th>Kind</th><th>What</th><th>Who</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            body,
        )

    def _apply(self, request, queryset, verb: str, action) -> None:
        done, refused = 0, []
        for job in queryset:
            try:
                action(job)
            except ApplicationError as exc:
                refused.append(f"{job.pk}: {exc.message}")
                continue
            done += 1
            self.log_change(request, job, f"{verb} via admin action")
        if done:
            self.message_user(request, f"{verb}: {done} job(s)", messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.WARNING)

    @admin.action(description="Force timeout", permissions=["change"])
    def force_timeout(self, request, queryset):
        actor = f"admin:{request.user.get_username()}"
        self._apply(request, queryset, "Force timeout",
                    lambda job: timeout_job(job, reason="Forced by AIPROD support",
                                            actor=actor))

    @admin.action(description="Retry", permissions=["change"])
    def retry(self, request, queryset):
        actor = f"admin:{request.user.get_username()}"
        self._apply(request, queryset, "Retry", lambda job: retry_job(job, actor=actor))


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    """Support: the worker clusters and the queue's progress at a glance (the
    readings of /diagnostics' queue section), for the "Stuck jobs" runbook
    of docs/operations.md."""

    list_display = ("__str__", "queue", "host", "pid", "worker_count", "beat_at", "heartbeat_age", "stopping",
                    "recovered_at")
    ordering = ("-beat_at",)

    @admin.display(description="workers")
    def worker_count(self, row: WorkerHeartbeat) -> int:
        return len(row.worker_pids)

    @admin.display(description="last heartbeat")
    def heartbeat_age(self, row: WorkerHeartbeat) -> str:
        return f"{(timezone.now() - row.beat_at).total_seconds():.0f}s ago"

    def changelist_view(self, request, extra_context=None):
        q = selectors.queue_progress(staff=True)

        def age(seconds):
            return "—" if seconds is None else f"{seconds:.0f}s"

        title = (
            f"Workers: {q['worker_clusters_alive']} cluster(s) alive, {q['worker_processes_alive']} worker process(es) · "
            f"jobs pending {q['jobs_pending']} (oldest {age(q['oldest_pending_job_age_seconds'])}), "
            f"processing {q['jobs_processing']} · webhook deliveries waiting {q['webhook_deliveries_waiting']} "
            f"(oldest {age(q['oldest_waiting_delivery_age_seconds'])}) · "
            f"re-queued after worker loss in the last hour: {q['jobs_requeued_after_worker_loss_last_hour']}"
        )
        return super().changelist_view(request, extra_context={**(extra_context or {}), "title": title})


@admin.register(Upload)
class UploadAdmin(ReadOnlyAdmin):
    """Support: the direct uploads (POST /uploads) an account asked for, to
    answer "my upload URL expired" or "no job came of my upload". `job_id`
    is the id the job gets once created from the upload (`used_at` set)."""

    list_display = ("id", "account", "livemode", "job_id", "filename", "kind", "max_size_bytes", "created_at",
                    "expires_at", "used_at")
    list_filter = ("kind", "livemode", ("used_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("id", "job_id", "account__email", "account__id", "filename")
    list_select_related = ("account",)
    ordering = ("-created_at", "-id")
    date_hierarchy = "created_at"
    show_full_result_count = False
