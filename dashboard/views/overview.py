"""Overview: tier, usage against the plan's limits, recent failures."""

from __future__ import annotations

from django.shortcuts import render

from dashboard import selectors
from jobs.models import Job, JobStatus
from dashboard.customer import customer_view
from quotas.plans import upgrade_hint


@customer_view
def overview(request):
    customer = request.customer
    failed_jobs = list(customer.scoped(Job.objects.filter(status=JobStatus.FAILED)).order_by("-created_at")[:5])
    return render(
        request,
        "dashboard/overview.html",
        {
            "section": "overview",
            "meters": selectors.usage_meters(customer.account),
            "upgrade_hint": upgrade_hint(customer.account.tier),
            "failed_jobs": failed_jobs,
            "error_requests": selectors.recent_error_requests(customer),
        },
    )
