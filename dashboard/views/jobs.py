"""Jobs: the filterable list, a job's detail with its timeline, retry and cancel.

Reads go through jobs.selectors (the API's filters and timeline), the job
object through jobs.serializers.job_data, and changes through
jobs.services.transitions, so the page and the API apply the same rules.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, ValidationFailed
from core.pagination import paginate
from dashboard.customer import customer_view, error_text
from jobs import selectors
from jobs.models import ACTIVE_STATUSES, Job, JobStatus
from jobs.serializers import STATUS_CHOICES, job_data
from jobs.services import transitions, types

FILTERS = ("status", "type", "name", "created_after", "created_before")
PAGE_SIZE = 25


def _actor(request) -> str:
    return f"dashboard:{request.user.get_username()}"


def _job(request, job_id) -> Job:
    return request.customer.get(Job.objects.all(), job_id, "Job")


@customer_view
def job_list(request):
    params = {name: request.GET.get(name, "").strip() for name in FILTERS}
    jobs = request.customer.scoped(Job.objects.all())
    error = None
    try:
        jobs = selectors.filter_jobs(jobs, params)
        rows, has_more, cursor = paginate(
            jobs, {"limit": str(PAGE_SIZE), "cursor": request.GET.get("cursor")}, default_limit=PAGE_SIZE
        )
    except ValidationFailed as exc:
        error, rows, has_more, cursor = error_text(exc), [], False, None
    next_query = None
    if has_more:
        query = request.GET.copy()
        query["cursor"] = cursor
        next_query = query.urlencode()
    return render(
        request,
        "dashboard/jobs.html",
        {
            "section": "jobs",
            "jobs": rows,
            "params": params,
            "statuses": STATUS_CHOICES,
            "types": types.type_choices(),
            "filter_error": error,
            "filtered": any(params.values()),
            "next_query": next_query,
        },
    )


@customer_view
def job_detail(request, job_id):
    job = _job(request, job_id)
    data = job_data(job, base_url=f"{request.scheme}://{request.get_host()}")
    return render(
        request,
        "dashboard/job_detail.html",
        {
            "section": "jobs",
            "job": job,
            "data": data,
            "timeline": selectors.timeline_for(job, request_limit=200),
            "can_cancel": job.status in ACTIVE_STATUSES,
            "can_retry": job.status in (JobStatus.FAILED, JobStatus.CANCELLED),
            "pretty": {
                name: json.dumps(data[name], indent=2, sort_keys=True)
                for name in ("params", "metadata", "output") if data[name]
            },
            "job_json": json.dumps(data, indent=2),
        },
    )


def _change(request, job_id, change, done: str):
    job = _job(request, job_id)
    try:
        job = change(job)
    except ApplicationError as exc:  # INVALID_STATE: it moved on meanwhile
        messages.error(request, error_text(exc))
    else:
        messages.success(request, done.format(name=job.name, status=job.status))
    return redirect("dashboard:job_detail", job_id=job.id)


@require_POST
@customer_view
def job_retry(request, job_id):
    return _change(request, job_id, lambda job: transitions.retry_job(job, actor=_actor(request)),
                   "Job {name} is queued again (status {status}).")


@require_POST
@customer_view
def job_cancel(request, job_id):
    return _change(
        request, job_id,
        lambda job: transitions.cancel_job(job, actor=_actor(request), reason="Cancelled in the dashboard"),
        "Job {name} is cancelled.",
    )
