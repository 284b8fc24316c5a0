"""The job types the API offers, read from the processor registry.

A thin seam between the API/worker and `jobs.processors`: which types exist,
their default timeouts, what `auto` becomes for a kind of input, and params
validation in the API's error shape.
"""

from __future__ import annotations

from jobs import processors
from jobs.processing_errors import ParamsInvalid

AUTO = "auto"


def job_types() -> list[str]:
    return sorted(processors.TYPE_CLASSES)


def type_choices() -> list[str]:
    return [AUTO, *job_types()]


def default_timeout(type_name: str) -> int:
    """The type's class default; `auto` gets the long class's (its type is not known yet)."""
    return processors.default_timeout(type_name)


def auto_type_for(kind: str | None) -> str | None:
    """What `auto` becomes for an input kind (video → video.convert, ...)."""
    return processors.AUTO_TYPE_BY_KIND.get(kind) if kind else None


def accepts_kind(type_name: str, kind: str) -> bool:
    return kind in processors.get_processor(type_name).input_kinds


def validate_params(type_name: str, params: dict) -> dict:
    """The params cleaned by the type's params serializer; raises ParamsInvalid (details per param)."""
    return processors.get_processor(type_name).validate_params(params)


__all__ = ["AUTO", "ParamsInvalid", "job_types", "type_choices", "default_timeout", "auto_type_for",
           "accepts_kind", "validate_params"]
