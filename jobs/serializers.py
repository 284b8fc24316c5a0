"""The job object and the request bodies of the jobs API (docs/jobs.md).

`job_data(job)` is THE job representation: the API, webhook payloads and the
dashboard all use it. How /openapi.json describes them (response shapes, the
job-create body per type) is in jobs/openapi.py.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.crypto import salted_hmac
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ParseError

from core.fields import (
    StrictCharField,
    StrictChoiceField,
    StrictDictField,
    StrictIntegerField,
    StrictListField,
    StrictSerializer,
)
from core.openapi import HTTPS_URL_PATTERN
from core.parsers import decode_json
from core.timefmt import iso
from jobs.models import Job, JobStatus
from jobs.services import types
from jobs.services.output_links import signed_output_url, webhook_link_max_age

MAX_METADATA_KEYS = 100
MAX_METADATA_VALUE = 1000
MAX_METADATA_KEY = 255
MAX_BATCH_IDS = 100
STATUS_CHOICES = [s.value for s in JobStatus]


def public_worker(worker: str | None) -> str | None:
    """A worker as customers see it: a stable opaque label (`worker_` + 12
    hex), the same for every job the same worker process ran, never its host
    name and pid. The admin shows the real `host:pid`."""
    if not worker:
        return None
    return "worker_" + salted_hmac("aiprod.jobs.public_worker", worker).hexdigest()[:12]


def job_data(job: Job, *, base_url: str | None = None, for_webhook: bool = False) -> dict:
    """The job object (docs/jobs.md), `requested_type` and `progress` included.

    `output_url` is a signed link valid for an hour from now. Its base is
    AIPROD_JOB_PUBLIC_URL, else `base_url` (the API passes the request's),
    else the link is relative. `for_webhook`: the link works for the whole
    webhook retry window instead.
    """
    output_url = None
    if job.status == JobStatus.COMPLETED and job.output_file:
        base = settings.AIPROD_JOB_PUBLIC_URL or (base_url or "")
        output_url = signed_output_url(job, base, max_age=webhook_link_max_age() if for_webhook else None)
    return {
        "id": job.id,
        "object": "job",
        "livemode": job.livemode,
        "name": job.name,
        "type": job.type,
        "requested_type": job.requested_type,
        "status": job.status,
        "progress": job.progress,
        "input_url": job.input_url or None,
        "input": {
            "filename": job.input_filename or None,
            "content_type": job.input_content_type or None,
            "size_bytes": job.input_size_bytes,
        },
        "params": job.params,
        "timeout": job.timeout,
        "webhook_url": job.webhook_url,
        "metadata": job.metadata,
        "output": job.output,
        "output_url": output_url,
        "error": job.error,
        "error_code": job.error_code,
        "attempted_count": job.attempted_count,
        "worker_instance": public_worker(job.worker_instance),
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "completed_at": iso(job.completed_at),
        "last_activity_at": iso(job.last_activity_at),
        "duration_ms": job.duration_ms,
    }


# --------------------------------------------------------------------------- fields


class NameField(StrictCharField):
    def __init__(self, **kwargs):
        message = "Must be between 1 and 255 characters"
        kwargs.setdefault("max_length", 255)
        kwargs.setdefault("error_messages", {"blank": message, "max_length": message})
        super().__init__(**kwargs)


# The schema states the production rule (https://); the server takes http://
# too where AIPROD_ALLOW_INSECURE_URLS is on, as /jobs/stream's query says.
@extend_schema_field({"type": "string", "maxLength": 2048, "pattern": HTTPS_URL_PATTERN})
class HttpsUrlField(StrictCharField):
    """A syntactically valid https:// URL ("Must be a valid HTTPS URL"); http://
    too when AIPROD_ALLOW_INSECURE_URLS is on (local development, tests).
    Where it points is checked when something is sent there."""

    message = "Must be a valid HTTPS URL"

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 2048)
        kwargs.setdefault("error_messages", {"blank": self.message, "max_length": "Must be at most 2048 characters"})
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        schemes = ("https", "http") if settings.AIPROD_ALLOW_INSECURE_URLS else ("https",)
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise serializers.ValidationError(self.message) from None
        if parts.scheme.lower() not in schemes or not parts.hostname or any(c.isspace() for c in value):
            raise serializers.ValidationError(self.message)
        return value


# OAS 3.0 has no propertyNames: the keys' length is said in words only.
@extend_schema_field({
    "type": "object", "maxProperties": MAX_METADATA_KEYS,
    "additionalProperties": {"type": "string", "maxLength": MAX_METADATA_VALUE},
    "description": f"Your own key-value strings: at most {MAX_METADATA_KEYS} keys of 1 to {MAX_METADATA_KEY} "
                   f"characters, values of at most {MAX_METADATA_VALUE} characters",
})
class MetadataField(StrictDictField):
    """At most 100 keys; values strings of at most 1000 characters."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if len(data) > MAX_METADATA_KEYS:
            raise serializers.ValidationError(f"Must have at most {MAX_METADATA_KEYS} keys")
        for key, value in data.items():
            if not key or len(key) > MAX_METADATA_KEY:
                raise serializers.ValidationError(f"Keys must be 1 to {MAX_METADATA_KEY} characters")
            if not isinstance(value, str):
                raise serializers.ValidationError(f"Values must be strings ('{key[:40]}' is not)")
            if len(value) > MAX_METADATA_VALUE:
                raise serializers.ValidationError(
                    f"Values must be at most {MAX_METADATA_VALUE} characters ('{key[:40]}' is {len(value)})"
                )
        return data


def _timeout_field(**kwargs):
    return StrictIntegerField(min_value=60, max_value=7200, **kwargs)


# --------------------------------------------------------------------------- request bodies


class JobCreateInput(StrictSerializer):
    name = NameField()
    input_url = StrictCharField(max_length=4096, required=False,
                                error_messages={"blank": "This field is required"},
                                help_text="The input's HTTPS URL; or send upload_id instead")
    upload_id = StrictCharField(max_length=40, required=False,
                                help_text="A direct upload's id (POST /uploads) instead of input_url")
    type = StrictChoiceField(choices=types.type_choices(), unknown_message="Unknown choice", required=False)
    timeout = _timeout_field(required=False, help_text="Seconds per attempt; default: the type's class default "
                             "(for auto, that of the type the input resolves to)")
    webhook_url = HttpsUrlField(required=False, allow_null=True)
    metadata = MetadataField(required=False)
    params = StrictDictField(required=False)


    def to_internal_value(self, data):
        # input_url is required unless upload_id is sent: reported with the other fields' errors.
        missing = isinstance(data, dict) and "input_url" not in data and "upload_id" not in data
        required = {"input_url": [serializers.ErrorDetail("This field is required", code="required")]}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if missing and isinstance(exc.detail, dict):
                exc.detail.update(required)
            raise
        if missing:
            raise serializers.ValidationError(required)
        return value

    def validate(self, attrs):
        if "input_url" in attrs and "upload_id" in attrs:
            raise serializers.ValidationError({"upload_id": ["Send input_url or upload_id, not both"]})
        return attrs


class UploadCreateInput(StrictSerializer):
    filename = StrictCharField(max_length=255, help_text="Its extension names the kind: clip.mp4")
    content_type = StrictCharField(max_length=255, required=False,
                                   help_text="The file's media type; the PUT must send the same Content-Type")


def upload_data(upload, target: dict) -> dict:
    return {"id": upload.pk, "object": "upload", **target, "expires_at": iso(upload.expires_at),
            "max_size_bytes": upload.max_size_bytes}


class JobStreamQuery(StrictSerializer):
    """POST /jobs/stream's query string (all values arrive as strings)."""

    filename = StrictCharField(max_length=255)
    name = NameField(required=False)
    type = StrictChoiceField(choices=types.type_choices(), unknown_message="Unknown choice", required=False)
    timeout = StrictCharField(required=False)
    webhook_url = HttpsUrlField(required=False)
    # The type's params as a JSON object, URL-encoded: ?params={"format":"mp3"}
    params = StrictCharField(required=False, max_length=10_000)

    def validate_params(self, value: str) -> dict:
        message = 'Must be a JSON object, e.g. {"format": "mp3"}'
        try:
            # The body parser's rules: no NUL characters, no NaN/Infinity.
            parsed = decode_json(value.encode("utf-8", "surrogatepass"))
        except ParseError:
            raise serializers.ValidationError(message) from None
        if not isinstance(parsed, dict):
            raise serializers.ValidationError(message)
        return parsed

    def validate_timeout(self, value: str) -> int:
        text = value.strip()
        # ASCII digits: str.isdigit() also accepts "²" and int() then raised (a 500).
        if not re.fullmatch(r"-?[0-9]{1,9}", text):
            raise serializers.ValidationError("Must be an integer between 60 and 7200")
        number = int(text)
        if not 60 <= number <= 7200:
            raise serializers.ValidationError("Must be between 60 and 7200")
        return number


class JobUpdateInput(StrictSerializer):
    name = NameField(required=False)
    metadata = MetadataField(required=False)
    webhook_url = HttpsUrlField(required=False, allow_null=True)
    status = StrictChoiceField(choices=STATUS_CHOICES, required=False)


class JobTimeoutInput(StrictSerializer):
    reason = StrictCharField(required=False, allow_blank=True, max_length=500)


class JobBatchInput(StrictSerializer):
    ids = StrictListField(
        child=StrictCharField(max_length=64),
        min_length=1,
        max_length=MAX_BATCH_IDS,
        error_messages={
            "min_length": f"Must contain between 1 and {MAX_BATCH_IDS} ids",
            "max_length": f"Must contain between 1 and {MAX_BATCH_IDS} ids",
            "empty": f"Must contain between 1 and {MAX_BATCH_IDS} ids",
        },
    )


def timeline_entry_request(log) -> dict:
    return {
        "timestamp": iso(log.created_at),
        "kind": "request",
        "request_id": log.request_id,
        "method": log.method,
        "path": log.path,
        "status": log.status,
        "error_code": log.error_code,
        "api_key_prefix": log.api_key_prefix or None,
    }


def public_actor(actor: str | None) -> str | None:
    """Who made a change, as the customer sees it: staff names stay in the
    admin's audit ("admin:sam"), the customer sees "AIPROD support"."""
    if actor and actor.startswith("admin:"):
        return "AIPROD support"
    return actor or None


def timeline_entry_transition(t, *, staff: bool = False) -> dict:
    """``staff``: the worker's real `host:pid` (the admin), else its public label."""
    return {
        "timestamp": iso(t.at),
        "kind": "state_change",
        "from_status": t.from_status,
        "to_status": t.to_status,
        "worker": (t.worker or None) if staff else public_worker(t.worker),
        "attempt": t.attempt,
        "actor": (t.actor or None) if staff else public_actor(t.actor),
        "reason": t.reason or None,
        "error_code": t.error_code,
    }


def timeline_entry_delivery(d: dict) -> dict:
    return {**d, "kind": "webhook"}
