"""How /openapi.json describes the jobs API: the shapes job_data() and friends
return (documentation only: the views build plain dicts), and the job-create
body per job type.

The body of POST /jobs is a oneOf with one schema per `type`, discriminated
by `type`. Each type's `params` is that type's params serializer, the very
one the API validates params with (jobs/processors), so the published limits,
choices and defaults cannot drift from the checks. Each schema also says the
input is `input_url` or `upload_id`, exactly one of them.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from core.fields import StrictChoiceField, StrictDictField
from jobs import processors
from jobs.serializers import STATUS_CHOICES, JobCreateInput
from jobs.services import types


class ParamsSchema(OpenApiSerializerExtension):
    """A type's params refuse unknown keys ("Unknown parameter"): say so."""

    target_class = "jobs.processors.params.ParamsSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        # The type's own docstring, not the base class's (which is for developers).
        own_doc = type(self.target).__dict__.get("__doc__")
        schema.pop("description", None)
        if own_doc:
            schema["description"] = " ".join(own_doc.split())
        return schema


class JobCreateSchema(OpenApiSerializerExtension):
    """A job-create body: unknown fields refused (as every StrictSerializer's)
    and exactly one input, `input_url` or `upload_id` (400 otherwise)."""

    target_class = "jobs.serializers.JobCreateInput"
    match_subclasses = True
    priority = 1  # before core.openapi's StrictSerializerScheme, whose rule it repeats

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        schema["oneOf"] = [{"required": ["input_url"]}, {"required": ["upload_id"]}]
        return schema


def _component_name(type_name: str) -> str:
    """ "image.transform" -> "ImageTransform"."""
    return "".join(word.capitalize() for word in type_name.replace(".", "_").split("_"))


def _typed_body(type_name: str) -> type[JobCreateInput]:
    processor = processors.get_processor(type_name)
    kinds = ", ".join(sorted(processor.input_kinds))
    return type(f"JobCreate{_component_name(type_name)}", (JobCreateInput,), {
        "__module__": __name__,
        "__doc__": f"A job of type {type_name}: takes {kinds} input; default timeout {processor.default_timeout} s.",
        "type": StrictChoiceField(choices=[type_name], unknown_message="Unknown choice"),
        "params": processor.params(required=False, help_text=f"The params of {type_name}"),
    })


class JobCreateAuto(JobCreateInput):
    """An `auto` job: the input's kind picks the type (video: video.convert,
    audio: audio.transcribe, image: image.transform, document:
    document.extract_text); `params` are checked against that type. Leaving
    `type` out means auto too: the server takes a body without it."""

    # Required here though the server defaults it: `type` is the discriminator's
    # property, which tools that pick the schema by it (OAS) need present.
    type = StrictChoiceField(choices=[types.AUTO], unknown_message="Unknown choice")
    params = StrictDictField(required=False, help_text="The params of the type the input resolves to")


def job_create_body() -> PolymorphicProxySerializer:
    """POST /jobs's body: one schema per type, discriminated by `type`."""
    return PolymorphicProxySerializer(
        component_name="JobCreateInput",
        serializers={types.AUTO: JobCreateAuto, **{name: _typed_body(name) for name in types.job_types()}},
        resource_type_field_name="type",
    )


class UploadOut(serializers.Serializer):
    id = serializers.CharField(help_text="upl_...: pass it as upload_id to POST /jobs")
    object = serializers.ChoiceField(choices=["upload"])
    upload_url = serializers.CharField(help_text="PUT the file's bytes here (no API key) before expires_at")
    method = serializers.ChoiceField(choices=["PUT"])
    headers = serializers.DictField(child=serializers.CharField(), help_text="Send these headers with the PUT")
    expires_at = serializers.DateTimeField()
    max_size_bytes = serializers.IntegerField(help_text="Larger files fail the job with INVALID_INPUT")




class JobInputOut(serializers.Serializer):
    filename = serializers.CharField(allow_null=True)
    content_type = serializers.CharField(allow_null=True)
    size_bytes = serializers.IntegerField(allow_null=True)


class JobOut(serializers.Serializer):
    """The shape job_data() returns."""

    id = serializers.CharField()
    object = serializers.CharField(help_text='Always "job"')
    livemode = serializers.BooleanField()
    name = serializers.CharField()
    type = serializers.CharField()
    requested_type = serializers.CharField()
    status = serializers.ChoiceField(choices=STATUS_CHOICES)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    input_url = serializers.CharField(allow_null=True)
    input = JobInputOut()
    params = serializers.DictField()
    timeout = serializers.IntegerField()
    webhook_url = serializers.CharField(allow_null=True)
    metadata = serializers.DictField(child=serializers.CharField())
    output = serializers.DictField(allow_null=True)
    output_url = serializers.CharField(allow_null=True, help_text="Signed link, no key needed, valid for 1 hour")
    error = serializers.CharField(allow_null=True)
    error_code = serializers.CharField(
        allow_null=True,
        help_text="Why a failed job failed, e.g. INVALID_INPUT, CORRUPT_INPUT, UNSUPPORTED_INPUT, INPUT_TOO_LARGE, "
                  "OUTPUT_TOO_LARGE (the output passed the type's and tier's output-size limit), QUOTA_EXCEEDED "
                  "(input or output bytes over the monthly data quota), TIMEOUT, WORKER_LOST",
    )
    attempted_count = serializers.IntegerField()
    worker_instance = serializers.CharField(
        allow_null=True,
        help_text="The worker running (or that last ran) the job: an opaque label, `worker_` + 12 hex characters, "
        "the same for every job one worker process ran. Quote it to support; host names are not shown.",
    )
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    last_activity_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)


class JobListOut(serializers.Serializer):
    object = serializers.CharField(help_text='Always "list"')
    data = JobOut(many=True)
    has_more = serializers.BooleanField()
    next_cursor = serializers.CharField(allow_null=True)


class JobBatchOut(serializers.Serializer):
    data = JobOut(many=True)
    not_found = serializers.ListField(child=serializers.CharField())


class TimelineRequestOut(serializers.Serializer):
    timestamp = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=["request"])
    request_id = serializers.CharField()
    method = serializers.CharField()
    path = serializers.CharField()
    status = serializers.IntegerField()
    error_code = serializers.CharField(allow_null=True)
    api_key_prefix = serializers.CharField(allow_null=True)


class TimelineStateChangeOut(serializers.Serializer):
    timestamp = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=["state_change"])
    from_status = serializers.CharField(allow_null=True)
    to_status = serializers.CharField()
    worker = serializers.CharField(allow_null=True, help_text="The worker's opaque label (see the job's worker_instance)")
    attempt = serializers.IntegerField()
    actor = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_null=True)
    error_code = serializers.CharField(allow_null=True)


class TimelineWebhookOut(serializers.Serializer):
    timestamp = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=["webhook"])
    event = serializers.CharField()
    delivery_id = serializers.CharField()
    status = serializers.CharField()
    response_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    attempt = serializers.IntegerField(help_text="0: not attempted (pending or skipped)")
    url = serializers.CharField()


class TimelineOut(serializers.Serializer):
    object = serializers.CharField(help_text='Always "list"')
    job_id = serializers.CharField()
    data = PolymorphicProxySerializer(
        component_name="TimelineEntry",
        serializers={
            "request": TimelineRequestOut,
            "state_change": TimelineStateChangeOut,
            "webhook": TimelineWebhookOut,
        },
        resource_type_field_name="kind",
        many=True,
        help_text="Oldest first",
    )
    has_more = serializers.BooleanField()
    next_cursor = serializers.CharField(allow_null=True)
