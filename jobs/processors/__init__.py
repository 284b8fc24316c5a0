"""The job types AIPROD runs, one module each (SPEC §8).

    from jobs.processors import get_processor
    processor = get_processor("image.transform")
    params = processor.validate_params(request_params)   # ParamsInvalid -> 400
    result = processor.process(ProcessorContext(...))    # ProcessingError -> job failed

Importing this package is cheap: the media libraries load on first use.
"""

from __future__ import annotations

from types import ModuleType

from . import (
    audio_convert,
    audio_transcribe,
    document_extract_text,
    image_transform,
    probe,
    video_convert,
    video_thumbnail,
)
from .base import ParamsInvalid, ProcessingError, ProcessorContext, ProcessorResult

__all__ = [
    "AUTO_TYPE_BY_KIND",
    "DEFAULT_TIMEOUTS",
    "REGISTRY",
    "TYPE_CLASSES",
    "ParamsInvalid",
    "ProcessingError",
    "ProcessorContext",
    "ProcessorResult",
    "default_timeout",
    "get_processor",
]

REGISTRY: dict[str, ModuleType] = {
    module.TYPE: module
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

TYPE_CLASSES: dict[str, str] = {name: module.CLASS for name, module in REGISTRY.items()}

DEFAULT_TIMEOUTS = {"short": 300, "medium": 1800, "long": 3600}

# `type: auto` resolves to one of these once the input has been sniffed.
AUTO_TYPE_BY_KIND = {
    "video": "video.convert",
    "audio": "audio.transcribe",
    "image": "image.transform",
    "document": "document.extract_text",
}
AUTO_TIMEOUT = 3600  # `auto` does not know its class until the input is fetched


def get_processor(type_name: str) -> ModuleType:
    """The processor module for a job type; KeyError for unknown names (and "auto")."""
    try:
        return REGISTRY[type_name]
    except KeyError:
        raise KeyError(f"Unknown job type: {type_name!r}") from None


def default_timeout(type_name: str) -> int:
    """The default ``timeout`` of a job of this type (``auto``: 3600 s)."""
    if type_name == "auto":
        return AUTO_TIMEOUT
    return DEFAULT_TIMEOUTS[TYPE_CLASSES[type_name]]
