"""The job types AIPROD runs: one registry of processors, one module each.

    from jobs.processors import get_processor
    processor = get_processor("image.transform")
    params = processor.validate_params(request_params)   # ParamsInvalid -> 400
    output = processor.process(path, params=params, output_dir=...)   # ProcessingError -> job failed

A processor module declares ``PROCESSOR = Processor(type, input_kinds,
timeout_class, params, run)`` (jobs/processors/base.py); adding a type is
writing that module and listing it below. The params serializers also
document each type's params in /openapi.json (jobs/openapi.py).

Importing this package is cheap: the media libraries load on first use.
"""

from __future__ import annotations

from jobs.processing_errors import ParamsInvalid, ProcessingError
from jobs.processors import (
    audio_convert,
    audio_transcribe,
    document_extract_text,
    image_transform,
    probe,
    video_convert,
    video_thumbnail,
)
from jobs.processors.base import DEFAULT_TIMEOUTS, Input, Output, Processor, Progress

__all__ = [
    "AUTO_TYPE_BY_KIND",
    "DEFAULT_TIMEOUTS",
    "REGISTRY",
    "TYPE_CLASSES",
    "Input",
    "Output",
    "ParamsInvalid",
    "ProcessingError",
    "Processor",
    "Progress",
    "default_timeout",
    "get_processor",
]

REGISTRY: dict[str, Processor] = {
    module.PROCESSOR.type: module.PROCESSOR
    for module in (
        probe,
        image_transform,
        video_thumbnail,
        document_extract_text,
        audio_transcribe,
        audio_convert,
        video_convert,
    )
}

TYPE_CLASSES: dict[str, str] = {name: processor.timeout_class for name, processor in REGISTRY.items()}

# `type: auto` resolves to one of these once the input has been sniffed.
AUTO_TYPE_BY_KIND = {
    "video": "video.convert",
    "audio": "audio.transcribe",
    "image": "image.transform",
    "document": "document.extract_text",
}
# `auto` does not know its class until the input is fetched: the longest class's timeout.
AUTO_TIMEOUT = DEFAULT_TIMEOUTS["long"]


def get_processor(type_name: str) -> Processor:
    """The processor of a job type; KeyError for unknown names (and "auto")."""
    try:
        return REGISTRY[type_name]
    except KeyError:
        raise KeyError(f"Unknown job type: {type_name!r}") from None


def default_timeout(type_name: str) -> int:
    """The default ``timeout`` of a job of this type (``auto``: 3600 s)."""
    if type_name == "auto":
        return AUTO_TIMEOUT
    return get_processor(type_name).default_timeout
