"""The jobs API (docs/jobs.md). Thin: parse, call one service, render job_data.

Scopes: reads need jobs.read; creating and changing a job (PATCH, cancel,
timeout, retry) need jobs.create; DELETE needs jobs.delete.
"""

from __future__ import annotations

import os

from django.http import FileResponse, HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from accounts.scoping import get_owned_or_404, owned_by
from core.api import ApiView
from core.errors import ApplicationError, not_found
from core.openapi import CURSOR_PATTERN, HTTPS_URL_PATTERN, api_doc, int_query, request_examples, str_query
from core.pagination import list_body, paginate
from jobs import selectors
from jobs.models import Job, JobStatus
from jobs.openapi import JobBatchOut, JobListOut, JobOut, TimelineOut, UploadOut, job_create_body
from jobs.serializers import (
    STATUS_CHOICES,
    JobBatchInput,
    JobCreateInput,
    JobStreamQuery,
    JobTimeoutInput,
    JobUpdateInput,
    UploadCreateInput,
    job_data,
    upload_data,
)
from jobs.services import direct_uploads, idempotency, output_links, storage, types
from jobs.services.create import create_job
from jobs.services.transitions import cancel_job, delete_job, retry_job, timeout_job
from jobs.services.update import update_job
from jobs.services.upload import create_job_from_upload

READ, WRITE = "jobs.read", "jobs.create"
_str = OpenApiTypes.STR
_ANY = "(empty: no filter)"
_INSTANT = {"anyOf": [
    {"type": "string", "maxLength": 0},
    {"type": "string", "format": "date"},
    {"type": "string", "format": "date-time"},
]}
LIST_FILTERS = [
    str_query("status", enum=["", *STATUS_CHOICES], description=_ANY),
    str_query("type", enum=["", *types.type_choices()], description=_ANY),
    str_query("name", description=f"exact name {_ANY}"),
    OpenApiParameter("created_after", _INSTANT, description=f"inclusive; ISO 8601 date or datetime, naive = UTC {_ANY}"),
    OpenApiParameter("created_before", _INSTANT, description=f"exclusive; ISO 8601 date or datetime, naive = UTC {_ANY}"),
    int_query("limit", minimum=1, maximum=100, description="default 20"),
    str_query("cursor", description="next_cursor of the previous page", pattern=CURSOR_PATTERN),
]
STREAM_QUERY = [
    OpenApiParameter("filename", {"type": "string", "minLength": 1, "maxLength": 255}, required=True,
                     description="its extension names the kind: clip.mp4"),
    OpenApiParameter("name", {"type": "string", "minLength": 1, "maxLength": 255},
                     description='default "<filename> (<job id>)"'),
    str_query("type", enum=types.type_choices(), description="default auto"),
    int_query("timeout", minimum=60, maximum=7200, description="seconds; default by the type's class"),
    str_query("webhook_url", description="https:// URL for this job's events", pattern=HTTPS_URL_PATTERN),
    str_query("params", description='the type\'s params as a JSON object, e.g. {"format": "mp3"}; each type\'s '
              "params are the `params` of its schema in POST /jobs's body"),
]


def _base_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _render(request, job: Job) -> dict:
    return job_data(job, base_url=_base_url(request))


class JobView(ApiView):
    """A view acting on one job: scoped lookup, recorded on the timeline."""

    def get_job(self, request, job_id: str) -> Job:
        job = get_owned_or_404(Job, request, job_id, "Job")
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

    @api_doc(summary="Create a job (Idempotency-Key supported)", request=job_create_body(), response=JobOut, status=201,
             errors=(409, 413, 422), description="The input is `input_url`, or `upload_id` of a direct upload "
             "(POST /uploads; 409 UPLOAD_USED when a job already has it). A direct upload that never arrived or "
             "exceeds its max_size_bytes fails the job with INVALID_INPUT. Leaving `type` out means `auto`.", parameters=[
                 OpenApiParameter("Idempotency-Key", {"type": "string", "minLength": 1,
                                  "maxLength": idempotency.MAX_KEY_LENGTH, "pattern": "\\S"}, OpenApiParameter.HEADER,
                                  description="The same key and body within 24 h answer the first response again "
                                  "(with Idempotent-Replayed: true) instead of creating a second job"),
                 OpenApiParameter("Idempotent-Replayed", _str, OpenApiParameter.HEADER, response=[201],
                                  enum=["true"], description="Present on a replayed answer"),
             ], examples=request_examples(
                 # With "type": the discriminator's property, which the schema requires; the server also
                 # takes the body without it, as auto.
                 Minimal={"name": "first-job", "type": "auto", "input_url": "https://example.com/clip.mp4"},
                 From_a_direct_upload={"name": "uploaded-clip", "upload_id": "upl_abc123", "type": "video.thumbnail"},
                 Typed_with_params={"name": "thumb-42", "input_url": "https://example.com/photo.jpg",
                                    "type": "image.transform", "params": {"width": 320, "format": "webp"},
                                    "timeout": 300, "webhook_url": "https://example.com/hooks/aiprod",
                                    "metadata": {"user_id": "42"}},
             ))
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
                fields = dict(data.validated_data)
                if "upload_id" in fields:
                    job = direct_uploads.create_job_from_upload_id(
                        account, livemode=livemode, idempotency_request=key, **fields
                    )
                else:
                    job = create_job(account, livemode=livemode, idempotency_request=key, **fields)
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
             response=JobOut, status=201, errors=(413, 422), parameters=STREAM_QUERY,
             description="curl --data-binary @clip.mp4 -H 'X-API-Key: sk_live_...' "
             "'https://api.example.com/jobs/stream?filename=clip.mp4&type=audio.convert&params=%7B%22format%22%3A%22mp3%22%7D'")
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


class UploadListView(ApiView):
    """POST /uploads: where to PUT a file before creating its job (a direct upload)."""

    required_scopes = WRITE

    @api_doc(summary="Create a direct upload: a URL to PUT the input file to, then POST /jobs with upload_id",
             request=UploadCreateInput, response=UploadOut, status=201, errors=(422,),
             description="With object storage upload_url is a presigned PUT to the bucket (the bytes bypass the "
             "API servers); on local storage it is a signed AIPROD URL taking the PUT as a stream. Send the "
             "returned headers with the PUT, before expires_at. max_size_bytes is the kind's limit (capped on "
             "the free plan); the bytes count against the data quota once, when the job reads them.",
             examples=request_examples(A_video={"filename": "clip.mp4", "content_type": "video/mp4"}))
    def post(self, request):
        data = UploadCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload, target = direct_uploads.create_upload(
            request.user, livemode=request.auth.livemode, filename=data.validated_data["filename"],
            content_type=data.validated_data.get("content_type"), base_url=_base_url(request),
        )
        return Response(upload_data(upload, target), status=201)


class UploadContentView(ApiView):
    """PUT /uploads/{id}/content?token=: the local backend's upload_url. The
    token is the credential (no API key); the body is read as a stream."""

    authentication_classes: list = []
    permission_classes: list = []

    @api_doc(summary="Receive a direct upload's bytes (local storage; the upload_url of POST /uploads)",
             request={"application/octet-stream": OpenApiTypes.BINARY}, response=None, status=204,
             errors=(403, 404, 409, 413), auth=[{}], public=True,
             parameters=[OpenApiParameter("token", _str, required=True, description="from upload_url")])
    def put(self, request, upload_id):
        raw = request._request
        try:
            direct_uploads.receive_put(upload_id, request.GET.get("token", ""), _body_reader(raw),
                                       content_length=_content_length(raw))
        except storage.StorageUnavailable as exc:
            raise ApplicationError(503, exc.code, exc.message, headers={"Retry-After": "5"}) from None
        return Response(status=204)


class JobBatchView(ApiView):
    required_scopes = READ
    required_tier = "pro"

    @api_doc(summary="Retrieve up to 100 jobs in one request (Pro, Enterprise)", request=JobBatchInput,
             response=JobBatchOut, errors=(413,),
             examples=request_examples(Two_jobs={"ids": ["job_abc123", "job_def456"]}))
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
             response=JobOut, errors=(404, 413, 422),
             examples=request_examples(Rename={"name": "renamed-job", "metadata": {"user_id": "42"}},
                                       Cancel={"status": "cancelled"}))
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
             response=JobOut, errors=(404, 413, 422),
             examples=request_examples(With_a_reason={"reason": "Stuck at 40% for an hour"}))
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
             response={"*/*": OpenApiTypes.BINARY}, errors=(404,),
             redirect="With object storage: a presigned URL of the output object, valid AIPROD_S3_URL_EXPIRY "
             "seconds (default 900)",
             description="The file in its own media type (the job's output content type). With ?token= (from "
             "output_url) no key is needed; a bad or expired token is 403 INVALID_SIGNATURE / LINK_EXPIRED. "
             "With object storage (AIPROD_S3_BUCKET) the answer is 302 to a short-lived presigned URL of the "
             "object (AIPROD_S3_URL_EXPIRY, default 15 min) that serves it with the same Content-Type and an "
             "attachment Content-Disposition.",
             auth=[{"ApiKeyHeader": []}, {"BearerKey": []}, {}],
             parameters=[OpenApiParameter("token", _str, description="from output_url; replaces the API key")])
    def get(self, request, job_id):
        if self._signed(request):
            name = output_links.verify_token(job_id, request.GET["token"])
            job = Job.objects.filter(pk=job_id, status=JobStatus.COMPLETED, output_file=name).first()
            if job is None:
                raise not_found("Output")
            return _file_response(job, name)
        job = self.get_job(request, job_id)
        if job.status == JobStatus.COMPLETED and not job.output_file:
            raise ApplicationError(404, "NOT_FOUND", f"Job {job.pk} ({job.type}) has no output file: its result "
                                   f"is in the job's `output` field (GET /jobs/{job.pk})")
        if job.status != JobStatus.COMPLETED:
            raise not_found(f"Output of job {job.pk} (status {job.status})")
        return _file_response(job, job.output_file)


def _file_response(job: Job, name: str):
    """The local file streamed; with a bucket, 302 to a presigned URL of the
    object (the bytes bypass the API servers)."""
    content_type = job.output_content_type or "application/octet-stream"
    url = storage.download_url(name, filename=os.path.basename(name), content_type=content_type)
    if url is not None:
        return HttpResponseRedirect(url)
    if not storage.stored_exists(name):
        raise not_found(f"Output of job {job.pk}")
    return FileResponse(
        storage.open_stored(name),
        as_attachment=True,
        filename=os.path.basename(name),
        content_type=job.output_content_type or "application/octet-stream",
    )
