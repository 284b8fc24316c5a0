"""/openapi.json publishes every job type's params, from the same serializer
the API validates them with: the POST /jobs body is one schema per `type`,
discriminated by `type`, and each one's `params` states the type's fields,
their JSON types, limits, choices and defaults."""

from __future__ import annotations

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.fields import empty

from core.openapi import HTTPS_URL_PATTERN
from jobs.processors import REGISTRY
from jobs.processors.params import ChoiceParam, IntegerParam, NumberParam


@pytest.fixture(scope="module")
def document():
    return SchemaGenerator().get_schema(request=None, public=True)


def resolve(document, schema: dict) -> dict:
    """Follow $ref, and the allOf/oneOf wrappers drf-spectacular puts around a
    referenced schema (a nullable enum is oneOf [the enum, null])."""
    if "$ref" in schema:
        return resolve(document, document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    for wrapper in ("allOf", "oneOf"):
        # An object's own oneOf (a job body's "input_url or upload_id") is a rule, not a wrapper.
        if wrapper in schema and "properties" not in schema:
            parts = [resolve(document, part) for part in schema[wrapper]]
            merged = {k: v for k, v in schema.items() if k != wrapper}
            for part in parts:
                if part.get("enum") != [None]:
                    merged.update(part)
            return merged
    return schema


def create_body(document) -> dict:
    ref = document["paths"]["/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]]  # the oneOf itself, unresolved


def branch(document, type_name: str) -> dict:
    return resolve(document, {"$ref": create_body(document)["discriminator"]["mapping"][type_name]})


def test_the_job_create_body_is_one_schema_per_type_discriminated_by_type(document):
    body = create_body(document)
    assert body["discriminator"]["propertyName"] == "type"
    assert set(body["discriminator"]["mapping"]) == {"auto", *REGISTRY}
    assert len(body["oneOf"]) == len(REGISTRY) + 1
    for type_name in REGISTRY:
        typed = branch(document, type_name)
        assert resolve(document, typed["properties"]["type"])["enum"] == [type_name]
        assert "type" in typed["required"]
    auto = branch(document, "auto")
    assert resolve(document, auto["properties"]["type"])["enum"] == ["auto"]
    # The discriminator's property is required in every branch (OAS); the
    # server still takes a body without it as auto, which the schema says in words.
    assert "type" in auto["required"]
    assert "Leaving `type` out means auto" in " ".join(auto["description"].split())


def test_every_job_body_takes_exactly_one_input_and_an_https_webhook_url(document):
    schema = {**document["paths"]["/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"],
              "components": document["components"]}
    jsonschema.validate({"name": "n", "type": "auto", "upload_id": "upl_1"}, schema)
    jsonschema.validate({"name": "n", "type": "auto", "input_url": "https://example.com/a.mp4",
                         "webhook_url": "https://example.com/hook", "metadata": {"k": "v"}}, schema)
    for refused in (
        {"name": "n", "type": "auto"},  # no input
        {"name": "n", "type": "auto", "upload_id": "upl_1", "input_url": "https://example.com/a.mp4"},  # both
        {"name": "n", "type": "auto", "upload_id": "upl_1", "webhook_url": "ftp://example.com/hook"},
        {"name": "n", "type": "auto", "upload_id": "upl_1", "metadata": {"k": 1}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(refused, schema)
    patch = document["components"]["schemas"]["PatchedJobUpdateInputRequest"]["properties"]["webhook_url"]
    assert patch["pattern"] == HTTPS_URL_PATTERN
    assert patch["nullable"] is True


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_every_registered_processors_params_are_published_with_their_types_and_limits(document, type_name):
    processor = REGISTRY[type_name]
    published = resolve(document, branch(document, type_name)["properties"]["params"])
    fields = processor.params().fields
    assert published["additionalProperties"] is False
    assert set(published.get("properties", {})) == set(fields)
    assert set(published.get("required", [])) == {name for name, field in fields.items() if field.required}
    for name, field in fields.items():
        prop = resolve(document, published["properties"][name])
        where = f"{type_name} params.{name}"
        if isinstance(field, IntegerParam):
            assert prop["type"] == "integer", where
            assert (prop["minimum"], prop["maximum"]) == (field.min_value, field.max_value), where
        elif isinstance(field, NumberParam):
            assert prop["type"] == "number", where
            assert (prop.get("minimum"), prop.get("maximum")) == (field.min_value, field.max_value), where
        elif isinstance(field, ChoiceParam):
            assert prop["enum"] == list(field.choices), where
        else:
            raise AssertionError(f"{where}: a param field the test does not know")
        if not field.required:
            assert prop["nullable"] is True, where  # null means the default
        if field.default is not empty:
            assert prop["default"] == field.default, where


def test_the_schema_accepts_a_types_own_params_and_refuses_another_types(document):
    schema = {**document["paths"]["/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"],
              "components": document["components"]}
    base = {"name": "n", "input_url": "https://example.com/a.mp4"}
    jsonschema.validate({**base, "type": "video.thumbnail", "params": {"at_seconds": 2.5, "width": 320}}, schema)
    jsonschema.validate({**base, "type": "auto", "params": {"anything": "goes for auto"}}, schema)
    for refused in (
        {**base, "type": "video.thumbnail", "params": {"quality": 80}},  # image.transform's, not its own
        {**base, "type": "image.transform", "params": {"width": 0}},
        {**base, "type": "image.transform", "params": {"format": "bmp"}},
        {**base, "type": "audio.convert", "params": {}},  # format is required
        {**base, "type": "video.explode"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(refused, schema)
