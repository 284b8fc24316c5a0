"""Sample payload data for POST /account/webhooks/{id}/test.

Shaped like the real thing (a job object as in docs/jobs.md, the keys of
jobs.serializers.job_data; tests/webhooks/test_samples.py holds the two
together, as webhooks may not import jobs), marked ``"sample": true`` and with
ids no real object has, so a receiver can tell a test from a real event.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from core.timefmt import iso

_JOB_STATUS = {
    "job.processing": "processing",
    "job.completed": "completed",
    "job.failed": "failed",
    "job.cancelled": "cancelled",
}


def _sample_job(event_type: str, livemode: bool) -> dict:
    now = timezone.now()
    status = _JOB_STATUS[event_type]
    started = now - timedelta(seconds=42)
    finished = status in ("completed", "failed", "cancelled")
    return {
        "id": "job_sample0000000000000000",
        "object": "job",
        "livemode": livemode,
        "name": "Sample job (test event)",
        "type": "audio.transcribe",
        "requested_type": "audio.transcribe",
        "status": status,
        "progress": 100 if status == "completed" else 40,
        "input_url": "https://example.com/sample.mp3",
        "input": {"filename": "sample.mp3", "content_type": "audio/mpeg", "size_bytes": 123456},
        "params": {},
        "timeout": 1800,
        "webhook_url": None,
        "metadata": {},
        "output": {"text": "Hello from AIPROD."} if status == "completed" else None,
        "output_url": None,
        "error": "Invalid input: URL returned HTTP 403" if status == "failed" else None,
        "error_code": "INVALID_INPUT" if status == "failed" else None,
        "attempted_count": 1,
        "worker_instance": "worker_000000000000",
        "created_at": iso(started - timedelta(seconds=3)),
        "started_at": iso(started),
        "completed_at": iso(now) if finished else None,
        "last_activity_at": iso(now),
        "duration_ms": 42000 if finished else None,
        "sample": True,
    }


def sample_data(event_type: str, endpoint) -> dict:
    if event_type in _JOB_STATUS:
        return _sample_job(event_type, endpoint.livemode)
    if event_type == "quota.warning":
        return {
            "quota": "jobs",
            "threshold_percent": 80,
            "used": 80,
            "limit": 100,
            "period_start": iso(timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)),
            "sample": True,
        }
    if event_type == "webhook.disabled":
        from webhooks.serializers import endpoint_data

        data = endpoint_data(endpoint)
        data.update(active=False, disabled_reason="Every delivery failed for 5 days (sample)", sample=True)
        return data
    raise ValueError(f"No sample for {event_type!r}")
