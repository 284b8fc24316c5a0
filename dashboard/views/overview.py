"""Overview: tier, usage against the plan's limits, recent failures, and a
"Get started" card until the mode being viewed has its first completed job."""

from __future__ import annotations

import json

from django.shortcuts import render

from dashboard import selectors
from dashboard.customer import customer_view
from jobs.models import Job, JobStatus
from accounts.plans import upgrade_hint

FIRST_JOB = {"name": "first job", "type": "media.probe", "input_url": "https://…"}


def first_job_curl(base_url: str, key_hint: str) -> str:
    """The POST /jobs a new customer can paste into a shell. `key_hint` is a
    key's prefix ("sk_live_AbCd…"), never a whole key: the dashboard has none."""
    return (
        f"curl -X POST {base_url}/jobs \\\n"
        f'  -H "X-API-Key: {key_hint}" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d '{json.dumps(FIRST_JOB, ensure_ascii=False)}'"
    )


def _get_started(request, customer) -> dict | None:
    """What the "Get started" card shows, or None once a job has completed in
    this mode (a failed first try keeps the card: that customer is not done)."""
    if selectors.has_completed_job(customer):
        return None
    key = selectors.key_that_can_create_jobs(customer)
    key_hint = f"{key.prefix}…" if key else f"sk_{customer.environment}_…"
    return {
        "key": key,
        "key_hint": key_hint,
        "curl": first_job_curl(request.build_absolute_uri("/").rstrip("/"), key_hint),
    }


@customer_view
def overview(request):
    customer = request.customer
    failed_jobs = list(customer.scoped(Job.objects.filter(status=JobStatus.FAILED)).order_by("-created_at")[:5])
    return render(
        request,
        "dashboard/overview.html",
        {
            "section": "overview",
            "get_started": _get_started(request, customer),
            "meters": selectors.usage_meters(customer.account),
            "upgrade_hint": upgrade_hint(customer.account.tier),
            "failed_jobs": failed_jobs,
            "error_requests": selectors.recent_error_requests(customer),
        },
    )
