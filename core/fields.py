"""Strict serializer fields with the messages docs/errors.md lists.

JSON is typed: "3600" is not an integer ("Expected integer, got string"),
and `true` is not an integer either.
"""

import difflib

from rest_framework import serializers

JSON_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}


def json_type_name(value) -> str:
    if value is None:
        return "null"
    return JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def expected(kind: str, value) -> str:
    return f"Expected {kind}, got {json_type_name(value)}"


class StrictIntegerField(serializers.IntegerField):
    def __init__(self, **kwargs):
        min_value, max_value = kwargs.get("min_value"), kwargs.get("max_value")
        messages = kwargs.setdefault("error_messages", {})
        if min_value is not None and max_value is not None:
            messages.setdefault("min_value", f"Must be between {min_value} and {max_value}")
            messages.setdefault("max_value", f"Must be between {min_value} and {max_value}")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise serializers.ValidationError(expected("integer", data))
        if isinstance(data, float) and not data.is_integer():
            raise serializers.ValidationError("Expected integer, got number")
        return super().to_internal_value(int(data))


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError(expected("string", data))
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            raise serializers.ValidationError(expected("boolean", data))
        return data


def unknown_choice(choices) -> str:
    """"Unknown choice" (docs/errors.md), followed by what would have been accepted."""
    return "Unknown choice. Must be one of: " + ", ".join(choices)


def unknown_field(name: str, known) -> str:
    """ "Unknown field", with a hint when `name` is a near miss of a known
    field ("url" for "input_url", "meta" for "metadata")."""
    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.5)
    return f"Unknown field; did you mean `{close[0]}`?" if close else "Unknown field"


class StrictChoiceField(serializers.ChoiceField):
    """A choice worded as docs/errors.md says: "Must be one of: a, b, c" by default,
    or "Unknown choice" (as for a job's type) when `unknown_message` is set,
    followed by the valid choices."""

    def __init__(self, choices, unknown_message: str | None = None, **kwargs):
        super().__init__(choices, **kwargs)
        self.unknown_message = unknown_message

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError(expected("string", data))
        if data not in self.choice_strings_to_values:
            if self.unknown_message:
                raise serializers.ValidationError(f"{self.unknown_message}. Must be one of: "
                                                  + ", ".join(self.choice_strings_to_values))
            raise serializers.ValidationError("Must be one of: " + ", ".join(self.choice_strings_to_values))
        return self.choice_strings_to_values[data]


class StrictDictField(serializers.DictField):
    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(expected("object", data))
        return super().to_internal_value(data)


class StrictListField(serializers.ListField):
    def to_internal_value(self, data):
        if not isinstance(data, list):
            raise serializers.ValidationError(expected("array", data))
        return super().to_internal_value(data)


class RejectUnknownFieldsMixin:
    """Unknown fields are an error, not silently dropped; reported together
    with the known fields' errors (missing, invalid), so one round trip shows
    everything wrong with a request."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            return super().to_internal_value(data)
        unknown = {name: [unknown_field(name, self.fields)] for name in sorted(set(data) - set(self.fields), key=str)}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not unknown or not isinstance(exc.detail, dict):
                raise
            raise serializers.ValidationError({**exc.detail, **unknown}) from None
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class StrictSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    default_error_messages = {"invalid": "Expected a JSON object, got {datatype}"}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"body": [expected("object", data)]})
        return super().to_internal_value(data)
