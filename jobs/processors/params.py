"""The fields of a processor's ``params``: DRF serializer fields with the API's
messages, so one declaration both validates params and documents them in
/openapi.json (types, limits, choices, defaults).

The rules, the same for every type: JSON is typed ("3" is not a number, and
``true`` is not an integer); an unknown key is refused ("Unknown parameter");
``null`` for an optional param means "use the default"; a choice is matched
case-insensitively and stored lower-case. The cleaned params hold every
declared key, ``None`` for an optional param without a default.
"""

from __future__ import annotations

import math
from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty

from jobs.processing_errors import ParamsInvalid

REQUIRED = "This field is required"

# What a ParamsSerializer's validate() raises for a cross-field rule: {name: [message]}.
ValidationError = serializers.ValidationError

_JSON_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
                    dict: "object", type(None): "null"}


def json_type_name(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class _Param:
    """What every param field shares: optional ones are nullable (null = the
    default), and the required message has the API's wording."""

    def __init__(self, *, required: bool = False, default: Any = empty, **kwargs):
        kwargs.setdefault("error_messages", {})["required"] = REQUIRED
        super().__init__(required=required, default=default, allow_null=not required, **kwargs)


class IntegerParam(_Param, serializers.IntegerField):
    def __init__(self, min_value: int, max_value: int, **kwargs):
        between = f"Must be between {min_value} and {max_value}"
        kwargs["error_messages"] = {"min_value": between, "max_value": between}
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        # bool is an int in Python but never in the API; 10.0 is a whole number.
        if isinstance(data, float) and math.isfinite(data) and data.is_integer():
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError(f"Expected integer, got {json_type_name(data)}")
        if not self.min_value <= data <= self.max_value:
            raise serializers.ValidationError(self.error_messages["min_value"])
        return data


class NumberParam(_Param, serializers.FloatField):
    def __init__(self, min_value: float | None = None, max_value: float | None = None, **kwargs):
        if min_value is not None and max_value is not None:
            low = high = f"Must be between {_num(min_value)} and {_num(max_value)}"
        else:
            low = f"Must be greater than or equal to {_num(min_value or 0)}"
            high = f"Must be less than or equal to {_num(max_value or 0)}"
        kwargs["error_messages"] = {"min_value": low, "max_value": high}
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise serializers.ValidationError(f"Expected number, got {json_type_name(data)}")
        if not math.isfinite(data):
            raise serializers.ValidationError("Must be a finite number")
        if self.min_value is not None and data < self.min_value:
            raise serializers.ValidationError(self.error_messages["min_value"])
        if self.max_value is not None and data > self.max_value:
            raise serializers.ValidationError(self.error_messages["max_value"])
        return float(data)


class ChoiceParam(_Param, serializers.ChoiceField):
    def __init__(self, choices: list[str], **kwargs):
        super().__init__(choices=list(choices), **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str) and data.strip().lower() in self.choices:
            return data.strip().lower()
        raise serializers.ValidationError("Must be one of: " + ", ".join(self.choices))


class ParamsSerializer(serializers.Serializer):
    """A processor's params. Subclass it and declare the fields; cross-field
    rules go in ``validate(attrs)``, raising ``ValidationError({name: [message]})``."""

    def to_internal_value(self, data: dict) -> dict:
        unknown = {str(key): ["Unknown parameter"] for key in data if key not in self.fields}
        given = {key: value for key, value in data.items() if key in self.fields and value is not None}
        try:
            value = super().to_internal_value(given)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**unknown, **exc.detail}) from None
        if unknown:
            raise serializers.ValidationError(unknown)
        return {name: value.get(name) for name in self.fields}

    @classmethod
    def defaults(cls) -> dict:
        """Every param's default (``None`` where there is none)."""
        return {name: (None if field.default is empty else field.default) for name, field in cls().fields.items()}


def clean_params(serializer_class: type[ParamsSerializer], params: Any) -> dict:
    """``params`` cleaned by ``serializer_class``; ``ParamsInvalid`` lists every problem."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ParamsInvalid({"params": [f"Expected object, got {json_type_name(params)}"]})
    serializer = serializer_class(data=params)
    if not serializer.is_valid():
        raise ParamsInvalid({str(name): [str(m) for m in messages] for name, messages in serializer.errors.items()})
    return dict(serializer.validated_data)
