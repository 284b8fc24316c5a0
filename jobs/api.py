"""The jobs API (SPEC §8). Thin: parse, call one service, render job_data.

Scopes: reads need jobs.read; creating and changing a job (PATCH, cancel,
timeout, retry) need jobs.create; DELETE needs jobs.delete.
"""

from __future__ import annotations

import os

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from accounts.scoping import get_owned_or_404, owned_by
from aiprod.api import ApiView
from aiprod.errors import not_found
from aiprod.openapi import api_doc
from aiprod.pagination import list_body, paginate
from jobs import selectors
from jobs.models import Job, JobStatus
from jobs.serializers import (
    JobBatchInput,
    JobBatchOut,
    JobCreateInput,
    JobListOut,
    JobOut,
    JobStreamQuery,
    JobTimeoutInput,
    JobUpdateInput,
    TimelineOut,
    job_data,
)
from jobs.services import idempotency, output_links, storage
from jobs.services.create import create_job
from jobs.services.transitions import cancel_job, delete_job, retry_job, timeout_job
from jobs.services.update import update_job
from jobs.services.upload import create_job_from_upload

READ, WRITE = "jobs.read", "jobs.create"
_str = OpenApiTypes.STR
LIST_FILTERS = [
    OpenApiParameter("status", _str, enum=["pending", "processing", "completed", "failed", "cancelled"]),
    OpenApiParameter("type", _str),
    OpenApiParameter("name", _str),
    OpenApiParameter("created_after", OpenApiTypes.DATETIME, description="inclusive; ISO 8601 date or datetime"),
    OpenApiParameter("created_before", OpenApiTypes.DATETIME, description="exclusive; ISO 8601 date or datetime"),
    OpenApiParameter("limit", OpenApiTypes.INT, description="1-100, default 20"),
    OpenApiParameter("cursor", _str),
]
STREAM_QUERY = [
    OpenApiParameter("filename", _str, required=True, description="its extension names the kind: clip.mp4"),
    OpenApiParameter("name", _str, description='default "<filename> (<job id>)"'),
    OpenApiParameter("type", _str),
    OpenApiParameter("timeout", OpenApiTypes.INT),
    OpenApiParameter("webhook_url", _str),
]


def _base_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _render(request, job: Job) -> dict:
    return job_data(job, base_url=_base_url(request))


class JobView(ApiView):
    """A view acting on one job: scoped lookup, recorded on the timeline."""

    def get_job(self, request, job_id: str) -> Job:
        job = get_owned_or_404(Job.objects.all(), request, job_id, "Job")
        # Only once it is ours: another account's probe must not enter this job's timeline.
        self.touch_object(job.pk)
        return job


class JobListView(ApiView):
    required_scopes = {"GET": READ, "POST": WRITE}

    @api_doc(summary="List jobs, newest first", response=JobListOut, parameters=LIST_FILTERS, operation_id="jobs_list")
    def get(self, request):
        jobs = selectors.filter_jobs(owned_by(Job.objects.all(), request), request.query_params)
        rows, has_more, next_cursor = paginate(jobs, request.query_params)
        return Response(list_body([_render(request, job) for job in rows], has_more, next_cursor))

    @api_doc(summary="Create a job (Idempotency-Key supported)", request=JobCreateInput, response=JobOut, status=201,
             errors=(422,), parameters=[OpenApiParameter("Idempotency-Key", _str, OpenApiParameter.HEADER)])
    def post(self, request):
        data = JobCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        account, livemode = request.user, request.auth.livemode
        key = idempotency.request_for(
            request.headers.get(idempotency.HEADER), method="POST", path=request.path, body=request.data
        )
        try:
            replay = idempotency.find_replay(account, livemode, key)
            if replay is None:
                job = create_job(account, livemode=livemode, idempotency_request=key, **data.validated_data)
                self.touch_object(job.pk)
                return Response(_render(request, job), status=201)
        except idempotency.ReplayInstead as twin:
            replay = twin.replay
        self.touch_object(replay.body.get("id"))
        return Response(replay.body, status=replay.status, headers={"Idempotent-Replayed": "true"})


class JobStreamView(ApiView):
    """POST /jobs/stream?filename=F: the raw body is the file. It is read in
    chunks from the WSGI stream; request.data / request.body are never touched."""

    required_scopes = WRITE

    @api_doc(summary="Create a job from a streamed upload (the raw body is the file)", request={"application/octet-stream": OpenApiTypes.BINARY},
             response=JobOut, status=201, errors=(413, 422), parameters=STREAM_QUERY)
    def post(self, request):
        query = JobStreamQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        values = dict(query.validated_data)
        raw = request._request
        job = create_job_from_upload(
            _body_reader(raw),
            account=request.user,
            livemode=request.auth.livemode,
            filename=values.pop("filename"),
            content_type=raw.META.get("CONTENT_TYPE"),
            content_length=_content_length(raw),
            name=values.pop("name", None),
            **values,
        )
        self.touch_object(job.pk)
        return Response(_render(request, job), status=201)


def _content_length(raw) -> int | None:
    try:
        value = int(raw.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    return value if value >= 0 else None


def _body_reader(raw):
    """Django limits its stream to Content-Length; a chunked body has none,
    so read the server's de-chunked wsgi.input directly."""
    chunked = "chunked" in raw.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and _content_length(raw) in (None, 0):
        return raw.META["wsgi.input"].read
    return raw.read


class JobBatchView(ApiView):
    required_scopes = READ
    required_tier = "pro"

    @api_doc(summary="Retrieve up to 100 jobs in one request (Pro, Enterprise)", request=JobBatchInput,
             response=JobBatchOut)
    def post(self, request):
        data = JobBatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        found, missing = selectors.jobs_by_ids(owned_by(Job.objects.all(), request), data.validated_data["ids"])
        return Response({"data": [_render(request, job) for job in found], "not_found": missing})


class JobDetailView(JobView):
    required_scopes = {"GET": READ, "PATCH": WRITE, "DELETE": "jobs.delete"}

    @api_doc(summary="Retrieve a job", response=JobOut, errors=(404,), operation_id="jobs_retrieve")
    def get(self, request, job_id):
        return Response(_render(request, self.get_job(request, job_id)))

    @api_doc(summary="Update name, metadata, webhook_url, or cancel with status=cancelled", request=JobUpdateInput,
             response=JobOut, errors=(404, 422))
    def patch(self, request, job_id):
        job = self.get_job(request, job_id)
        data = JobUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(_render(request, update_job(job, **data.validated_data)))

    @api_doc(summary="Delete a job and its files (cancels it first if active)", status=204, errors=(404,))
    def delete(self, request, job_id):
        delete_job(self.get_job(request, job_id))
        return Response(status=204)


class JobCancelView(JobView):
    required_scopes = WRITE

    @api_doc(summary="Cancel a pending or processing job", request=None, response=JobOut, errors=(404, 422))
    def post(self, request, job_id):
        return Response(_render(request, cancel_job(self.get_job(request, job_id), reason="Cancelled by API request")))


class JobTimeoutView(JobView):
    required_scopes = WRITE

    @api_doc(summary="Force a pending or processing job to fail with TIMEOUT", request=JobTimeoutInput,
             response=JobOut, errors=(404, 422))
    def post(self, request, job_id):
        job = self.get_job(request, job_id)
        data = JobTimeoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(_render(request, timeout_job(job, reason=data.validated_data.get("reason", ""))))


class JobRetryView(JobView):
    required_scopes = WRITE

    @api_doc(summary="Run a failed or cancelled job again", request=None, response=JobOut, errors=(404, 422))
    def post(self, request, job_id):
        return Response(_render(request, retry_job(self.get_job(request, job_id))))


class JobTimelineView(JobView):
    required_scopes = READ

    @api_doc(summary="Everything that happened to a job: requests, state changes, webhook attempts",
             response=TimelineOut, errors=(404,))
    def get(self, request, job_id):
        job = self.get_job(request, job_id)
        body = list_body(selectors.timeline_for(job), False, None)
        return Response({**body, "job_id": job.pk})


class JobOutputView(JobView):
    """GET /jobs/{id}/output with the API key, or with ?token= from the
    signed output_url and no key at all (the token is the credential)."""

    required_scopes = READ

    @staticmethod
    def _signed(request) -> bool:
        return "token" in request.GET

    def perform_authentication(self, request):
        if not self._signed(request):
            super().perform_authentication(request)

    def check_permissions(self, request):
        if not self._signed(request):
            super().check_permissions(request)

    @api_doc(summary="Download the job's output file (or use the signed output_url without a key)",
             response=OpenApiTypes.BINARY, errors=(404,),
             parameters=[OpenApiParameter("token", _str, description="from output_url; replaces the API key")])
    def get(self, request, job_id):
        if self._signed(request):
            name = output_links.verify_token(job_id, request.GET["token"])
            job = Job.objects.filter(pk=job_id, status=JobStatus.COMPLETED, output_file=name).first()
            if job is None:
                raise not_found("Output")
            return _file_response(job, name)
        job = self.get_job(request, job_id)
        if job.status != JobStatus.COMPLETED or not job.output_file:
            raise not_found(f"Output of job {job.pk} (status {job.status})")
        return _file_response(job, job.output_file)


def _file_response(job: Job, name: str) -> FileResponse:
    if not storage.stored_exists(name):
        raise not_found(f"Output of job {job.pk}")
    return FileResponse(
        storage.open_stored(name),
        as_attachment=True,
        filename=os.path.basename(name),
        content_type=job.output_content_type or "application/octet-stream",
    )
