"""A test event's sample job has the keys of a real job event's payload.

webhooks/samples.py writes the sample by hand (webhooks may not import jobs),
so this test, which may import both, builds a real payload with
jobs.serializers.job_data and compares the two."""

from __future__ import annotations

import pytest
from django.utils import timezone

from jobs.models import JobStatus
from jobs.serializers import job_data
from tests.webhooks.conftest import make_job
from webhooks.models import WebhookEndpoint
from webhooks.samples import sample_data

# Objects whose keys are the customer's or the processor's, not the job object's.
FREE_FORM = {"params", "metadata", "output"}
SAMPLE_MARKER = {"sample"}


def keys(value, path: str = "") -> set[str]:
    """Every key of a payload, nested objects' keys as `parent.child`."""
    if not isinstance(value, dict):
        return set()
    found = set()
    for key, inner in value.items():
        found.add(path + key)
        if key not in FREE_FORM or path:
            found |= keys(inner, f"{path}{key}.")
    return found


def real_payload(persona, status: str) -> dict:
    job = make_job(persona)
    job.status = status
    now = timezone.now()
    job.started_at = now
    if status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED):
        job.completed_at, job.duration_ms = now, 1000
    if status == JobStatus.FAILED:
        job.error, job.error_code = "Invalid input: URL returned HTTP 403", "INVALID_INPUT"
    job.save()
    return job_data(job, for_webhook=True)


@pytest.mark.parametrize("event", ["job.processing", "job.completed", "job.failed", "job.cancelled"])
def test_the_sample_job_has_exactly_the_keys_of_a_real_job_event(free, event):
    status = event.split(".")[1]
    sample = sample_data(event, WebhookEndpoint(livemode=True))
    real = real_payload(free, status)
    assert keys(sample) - SAMPLE_MARKER == keys(real)
    assert sample["status"] == real["status"] == status


def test_the_comparison_sees_a_missing_nested_key(free):
    sample = sample_data("job.completed", WebhookEndpoint(livemode=True))
    del sample["input"]["size_bytes"]
    assert keys(real_payload(free, "completed")) - keys(sample) == {"input.size_bytes"}
