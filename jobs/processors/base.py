"""The contract every processor implements, plus the helpers they share.

A processor is a module with ``TYPE``, ``CLASS``, ``INPUT_KINDS``,
``validate_params(params) -> dict`` and ``process(ctx) -> ProcessorResult``.
Processors are pure functions of their input file and params: no database,
no network, no Django. They run inside a forked child with a memory rlimit,
so they turn bad input (corrupt, truncated, mislabelled, bombs) into a
``ProcessingError`` with a code the customer can act on.

Heavy libraries (PyAV, Pillow, pypdf, pocketsphinx) are imported inside the
functions that need them, so the API process can import the registry to
validate params without paying for them.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

# Error codes a failed job can carry (the job's ``error_code``).
UNSUPPORTED_INPUT = "UNSUPPORTED_INPUT"
CORRUPT_INPUT = "CORRUPT_INPUT"
INPUT_TOO_LARGE = "INPUT_TOO_LARGE"
INVALID_PARAMS = "INVALID_PARAMS"
PROCESSING_FAILED = "PROCESSING_FAILED"

# Video frames larger than this are refused before any frame is decoded
# (8K UHD is 33.2 MP). Decoders also get it as ``max_pixels``.
MAX_VIDEO_PIXELS = 40_000_000
# Still images: the pixel limit checked on the header, before decoding.
MAX_IMAGE_PIXELS = 100_000_000


class ProcessingError(Exception):
    """A job failure the customer can act on."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class ParamsInvalid(Exception):
    """``params`` failed validation; ``details`` maps a param name to messages."""

    def __init__(self, details: dict[str, list[str]]):
        super().__init__("Validation failed")
        self.details = details


@dataclass
class ProcessorContext:
    input_path: str  # local file with the input bytes
    input_kind: str  # "video"|"audio"|"image"|"document" (already sniffed)
    input_content_type: str
    params: dict  # already validated by the module's validate_params
    output_dir: str  # an existing empty directory to write output files into
    # 0..100; call it regularly (at least every ~1 s of work): it is also the heartbeat.
    report_progress: Callable[[float], None] = lambda pct: None


@dataclass
class ProcessorResult:
    output: dict  # JSON-serialisable facts (the job's "output")
    output_file: str | None = None  # path of the produced file inside output_dir
    output_content_type: str | None = None


# --------------------------------------------------------------------------
# Params validation: a tiny declarative schema, messages in the API's style.
# --------------------------------------------------------------------------

_JSON_TYPE_NAMES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def json_type_name(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


class Field:
    def __init__(self, *, required: bool = False, default: Any = None):
        self.required = required
        self.default = default

    def clean(self, value: Any) -> Any:  # raises ValueError(message)
        raise NotImplementedError


class Integer(Field):
    def __init__(self, min_value: int, max_value: int, **kwargs):
        super().__init__(**kwargs)
        self.min_value, self.max_value = min_value, max_value

    def clean(self, value: Any) -> int:
        # bool is an int in Python but never in the API; "3" is never a number.
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"Expected integer, got {json_type_name(value)}")
        if not self.min_value <= value <= self.max_value:
            raise ValueError(f"Must be between {self.min_value} and {self.max_value}")
        return value


class Number(Field):
    def __init__(self, min_value: float | None = None, max_value: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.min_value, self.max_value = min_value, max_value

    def clean(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"Expected number, got {json_type_name(value)}")
        if not math.isfinite(value):
            raise ValueError("Must be a finite number")
        if self.min_value is not None and self.max_value is not None:
            if not self.min_value <= value <= self.max_value:
                raise ValueError(f"Must be between {_num(self.min_value)} and {_num(self.max_value)}")
        elif self.min_value is not None and value < self.min_value:
            raise ValueError(f"Must be greater than or equal to {_num(self.min_value)}")
        elif self.max_value is not None and value > self.max_value:
            raise ValueError(f"Must be less than or equal to {_num(self.max_value)}")
        return float(value)


class Choice(Field):
    def __init__(self, choices: list[str], **kwargs):
        super().__init__(**kwargs)
        self.choices = list(choices)

    def clean(self, value: Any) -> str:
        if isinstance(value, str) and value.strip().lower() in self.choices:
            return value.strip().lower()
        raise ValueError("Must be one of: " + ", ".join(self.choices))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def validate_schema(schema: dict[str, Field], params: Any) -> dict:
    """Clean ``params`` against ``schema``; raise ``ParamsInvalid`` listing every problem.

    Unknown keys are refused ("Unknown parameter"). ``null`` for an optional
    param means "use the default". The result has every schema key, with
    defaults filled in (``None`` for optional params without a default).
    """
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ParamsInvalid({"params": [f"Expected object, got {json_type_name(params)}"]})
    details: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for key in params:
        if key not in schema:
            details[str(key)] = ["Unknown parameter"]
    for name, field in schema.items():
        value = params.get(name)
        if value is None:
            if field.required:
                details[name] = ["This field is required"]
            cleaned[name] = field.default
            continue
        try:
            cleaned[name] = field.clean(value)
        except ValueError as exc:
            details[name] = [str(exc)]
    if details:
        raise ParamsInvalid(details)
    return cleaned


# --------------------------------------------------------------------------
# Progress: throttled, monotonic, and the job's heartbeat.
# --------------------------------------------------------------------------


# Seconds between two reports: frequent enough for a heartbeat, rare enough
# not to flood the worker's pipe.
PROGRESS_INTERVAL = 0.5


class Progress:
    """Forward progress to ``report`` at most every ``interval`` seconds.

    Call it as often as convenient (every frame, every chunk); the values
    passed on never go backwards and stay within 0..100.
    """

    def __init__(self, report: Callable[[float], None], interval: float | None = None):
        self._report = report
        self._interval = PROGRESS_INTERVAL if interval is None else interval
        self._last_at = -math.inf
        self._last_pct = 0.0

    def __call__(self, pct: float, force: bool = False) -> None:
        pct = max(self._last_pct, min(100.0, max(0.0, float(pct))))
        now = time.monotonic()
        if force or now - self._last_at >= self._interval:
            self._last_at = now
            self._last_pct = pct
            self._report(round(pct, 1))

    def done(self) -> None:
        self(100.0, force=True)


# --------------------------------------------------------------------------
# Shared input checks.
# --------------------------------------------------------------------------


def require_input_kind(ctx: ProcessorContext, type_name: str, kinds: set[str]):
    """Re-sniff the input bytes and refuse kinds this processor cannot handle.

    The caller already sniffed the input, but a processor must not trust a
    label: a PNG handed to a video processor would otherwise "work" because
    FFmpeg reads images too. Returns the ``Sniffed`` facts.
    """
    from jobs.sniff import sniff

    sniffed = sniff(ctx.input_path, declared_content_type=ctx.input_content_type)
    if sniffed.kind not in kinds:
        names = sorted(kinds)
        expected = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        raise ProcessingError(
            UNSUPPORTED_INPUT,
            f"Unsupported Content-Type: {type_name} needs {expected} input, got {sniffed.content_type}",
        )
    return sniffed


@contextlib.contextmanager
def guard(what: str = "the input") -> Iterator[None]:
    """Classify failures that escape a processor's own checks.

    Running out of memory (the worker's rlimit; also ENOMEM inside FFmpeg)
    becomes INPUT_TOO_LARGE. FFmpeg errors not already classified as a bad
    input (those come from ``open_media``/``decode_frames``) happened while
    encoding or writing: PROCESSING_FAILED.
    """
    try:
        yield
    except ProcessingError:
        raise
    except MemoryError:
        raise _out_of_memory(what) from None
    except Exception as exc:
        av_error = sys.modules.get("av.error")
        if av_error is not None and isinstance(exc, av_error.FFmpegError):
            raise ProcessingError(PROCESSING_FAILED, f"Processing failed: {av_reason(exc)}") from None
        raise


# --------------------------------------------------------------------------
# PyAV helpers (media.probe, video.*, audio.*).
# --------------------------------------------------------------------------


def av_reason(exc: BaseException) -> str:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(reason).rstrip(".")


# The FFmpeg demuxer for each format the sniffer accepts (jobs/sniff.py
# ACCEPTED). FFmpeg's own auto-detection is never used: it once opened an
# "MP3" (an ID3 tag followed by SDP text) with the SDP demuxer, which opens
# network streams. Full names (as FFmpeg reports them), so the probe's
# `format_name` reads as it did under auto-detection.
MOV = "mov,mp4,m4a,3gp,3g2,mj2"
AV_DEMUXERS = {
    "video/mp4": MOV, "video/quicktime": MOV, "audio/mp4": MOV,
    "video/webm": "matroska,webm", "video/x-matroska": "matroska,webm",
    "video/x-msvideo": "avi",
    "audio/mpeg": "mp3", "audio/wav": "wav", "audio/ogg": "ogg", "audio/flac": "flac", "audio/aac": "aac",
    "image/jpeg": "jpeg_pipe", "image/png": "png_pipe", "image/webp": "webp_pipe", "image/gif": "gif",
}


def open_media(path: str):
    """Open a media file for reading, mapping failures to CORRUPT_INPUT.

    The demuxer is the one for the format the sniffer finds in the bytes
    (``AV_DEMUXERS``), and only the ``file`` protocol is allowed, so no input
    can make FFmpeg open another demuxer or a network stream.

    ``skip_frame=all`` reaches the decoders FFmpeg opens while probing the
    streams: frame sizes still come from the container and the parsers, but
    no frame is decoded, so an absurd frame size is never allocated before
    ``check_video_stream`` has looked at it.
    """
    import av

    from jobs.sniff import sniff

    content_type = sniff(path).content_type
    demuxer = AV_DEMUXERS.get(content_type)
    if demuxer is None:
        raise ProcessingError(UNSUPPORTED_INPUT, f"Unsupported Content-Type: {content_type} is not a media format")
    try:
        return av.open(path, mode="r", format=demuxer, options={"skip_frame": "all", "protocol_whitelist": "file"},
                       metadata_errors="replace")
    except MemoryError:  # av.error.MemoryError too: ENOMEM inside FFmpeg
        raise _out_of_memory("the input") from None
    except av.error.FFmpegError as exc:
        raise ProcessingError(
            CORRUPT_INPUT, f"Invalid input: the file could not be read as media ({av_reason(exc)})"
        ) from None


def _out_of_memory(what: str) -> ProcessingError:
    return ProcessingError(INPUT_TOO_LARGE, f"Input too large: processing {what} needs more memory than allowed")


def check_video_stream(stream) -> tuple[int, int]:
    """Refuse video streams without a frame size or with an absurd one (before decoding)."""
    width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
    if width <= 0 or height <= 0:
        raise ProcessingError(CORRUPT_INPUT, "Invalid input: the video stream has no frame size")
    if width * height > MAX_VIDEO_PIXELS or max(width, height) > 16384:
        raise ProcessingError(
            INPUT_TOO_LARGE,
            f"Input too large: video frames are {width}x{height}; "
            f"the limit is {MAX_VIDEO_PIXELS // 1_000_000} megapixels and 16384 pixels per side",
        )
    # The decoder opened later enforces the same limit on every frame.
    stream.codec_context.options = {"max_pixels": str(MAX_VIDEO_PIXELS)}
    return width, height


# A damaged region is skipped (as the ffmpeg CLI does); this many damaged
# packets in a row means the file is garbage.
MAX_CONSECUTIVE_DECODE_ERRORS = 50


def decode_frames(container, streams: list) -> Iterator:
    """Demux and decode ``streams`` in file order; decoders are flushed at the end.

    A packet that does not decode is skipped, but a run of them, or a read
    error from the demuxer, is CORRUPT_INPUT. Out of memory is INPUT_TOO_LARGE.
    """
    import av

    demuxer = container.demux(streams)
    bad_packets = 0
    while True:
        try:
            packet = next(demuxer)
        except StopIteration:
            return
        except MemoryError:
            raise _out_of_memory("the input") from None
        except av.error.FFmpegError as exc:
            raise ProcessingError(
                CORRUPT_INPUT, f"Invalid input: the file is truncated or corrupt ({av_reason(exc)})"
            ) from None
        try:
            frames = packet.decode()
        except MemoryError:
            raise _out_of_memory("the input") from None
        except av.error.FFmpegError as exc:
            bad_packets += 1
            if bad_packets >= MAX_CONSECUTIVE_DECODE_ERRORS:
                raise ProcessingError(
                    CORRUPT_INPUT, f"Invalid input: the media data is corrupt ({av_reason(exc)})"
                ) from None
            continue
        if frames:
            bad_packets = 0
        yield from frames


# Containers whose duration FFmpeg estimates from the bit rate: a short read
# there proves nothing.
_ESTIMATED_DURATION_FORMATS = {"mp3", "aac"}


def check_complete(container, decoded_seconds: float, duration: float | None) -> None:
    """Refuse a silently truncated file: the header promised far more than could be decoded.

    (The demuxers of WAV, Matroska, Ogg... hit a clean end of file when the
    tail is missing, so nothing else would notice.)
    """
    if not duration or container.format.name in _ESTIMATED_DURATION_FORMATS:
        return
    if decoded_seconds < 0.9 * duration - 0.25:
        raise ProcessingError(
            CORRUPT_INPUT,
            f"Invalid input: the file looks truncated (only {decoded_seconds:.1f} s of "
            f"{duration:.1f} s could be decoded)",
        )


def media_duration(container, stream=None) -> float | None:
    """Duration in seconds from the container, else the stream, else None."""
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None
