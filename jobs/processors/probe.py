"""media.probe: container and stream facts, without decoding the media.

Video and audio are read with PyAV (FFmpeg's demuxers). Images are read with
Pillow, which parses only the header: FFmpeg would decode a frame to probe
it, which is exactly what a decompression bomb wants.

Output: ``format`` (mp4, webm, mkv, mov, avi, mp3, wav, ogg, flac, aac, m4a,
jpeg, png, webp, gif), ``content_type``, ``format_name`` (FFmpeg's demuxer or
the image codec), ``duration`` (seconds, null for still images), ``bit_rate``,
``size_bytes``, ``frames`` (images only) and ``streams``: one entry per
stream with ``index``, ``type``, ``codec``, ``width``, ``height``, ``fps``,
``sample_rate``, ``channels``, ``bit_rate``, ``duration``, ``language``
(null where not applicable or unknown).
"""

from __future__ import annotations

import os

from .base import (
    CORRUPT_INPUT,
    INPUT_TOO_LARGE,
    ProcessingError,
    ProcessorContext,
    ProcessorResult,
    media_duration,
    guard,
    open_media,
    require_input_kind,
    validate_schema,
)

TYPE = "media.probe"
CLASS = "short"
INPUT_KINDS = {"video", "audio", "image"}

PARAMS: dict = {}

# Friendly format names for what the sniffer calls an extension.
_FORMAT_NAMES = {"jpg": "jpeg"}

# Animated images: frames counted for the duration, at most this many.
_MAX_FRAMES_COUNTED = 10_000


def validate_params(params: dict) -> dict:
    return validate_schema(PARAMS, params)


def process(ctx: ProcessorContext) -> ProcessorResult:
    sniffed = require_input_kind(ctx, TYPE, INPUT_KINDS)
    ctx.report_progress(0)
    if sniffed.kind == "image":
        facts = probe_image(ctx.input_path)
    else:
        facts = probe_media(ctx.input_path)
    output = {
        "format": _FORMAT_NAMES.get(sniffed.extension, sniffed.extension),
        "content_type": sniffed.content_type,
        **facts,
        "size_bytes": os.path.getsize(ctx.input_path),
    }
    ctx.report_progress(100)
    return ProcessorResult(output=output)


def _stream_facts(stream) -> dict:
    cc = stream.codec_context
    facts = {
        "index": stream.index,
        "type": stream.type,
        "codec": cc.codec.canonical_name if cc is not None else None,
        "width": None,
        "height": None,
        "fps": None,
        "sample_rate": None,
        "channels": None,
        "bit_rate": (cc.bit_rate or None) if cc is not None else None,
        "duration": (
            round(float(stream.duration * stream.time_base), 3)
            if stream.duration and stream.time_base
            else None
        ),
        "language": stream.language,
    }
    if stream.type == "video" and cc is not None:
        facts["width"] = cc.width or None
        facts["height"] = cc.height or None
        rate = stream.average_rate or stream.guessed_rate
        facts["fps"] = round(float(rate), 3) if rate else None
    elif stream.type == "audio" and cc is not None:
        facts["sample_rate"] = cc.sample_rate or None
        facts["channels"] = cc.channels or None
    return facts


def probe_media(path: str) -> dict:
    """Container facts for an audio/video file (used by other processors too)."""
    container = open_media(path)
    with container, guard():
        streams = [_stream_facts(s) for s in container.streams]
        if not any(s["type"] in ("video", "audio") for s in streams):
            raise ProcessingError(CORRUPT_INPUT, "Invalid input: the file has no audio or video stream")
        duration = media_duration(container)
        if duration is None:
            durations = [s["duration"] for s in streams if s["duration"]]
            duration = max(durations) if durations else None
        return {
            "format_name": container.format.name,
            "duration": round(duration, 3) if duration is not None else None,
            "bit_rate": container.bit_rate or None,
            "streams": streams,
        }


def probe_image(path: str) -> dict:
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings(), guard():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                frames, duration_ms = _count_frames(img)
                codec = {"JPEG": "mjpeg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}.get(img.format, (img.format or "").lower())
    except Image.DecompressionBombError as exc:
        raise ProcessingError(INPUT_TOO_LARGE, f"Input too large: {exc}") from None
    except (MemoryError, ProcessingError):
        raise
    except Exception as exc:  # Pillow raises many types on malformed headers and frames
        raise ProcessingError(CORRUPT_INPUT, f"Invalid input: the image could not be read ({exc})") from None
    duration = round(duration_ms / 1000, 3) if frames > 1 and duration_ms else None
    fps = round(frames / duration, 3) if duration else None
    return {
        "format_name": codec,
        "duration": duration,
        "bit_rate": None,
        "frames": frames,
        "streams": [
            {
                "index": 0,
                "type": "video",
                "codec": codec,
                "width": width,
                "height": height,
                "fps": fps,
                "sample_rate": None,
                "channels": None,
                "bit_rate": None,
                "duration": duration,
                "language": None,
            }
        ],
    }


def _count_frames(img) -> tuple[int, int]:
    """Frame count and total duration (ms) of an animated image; (1, 0) for stills."""
    n_frames = getattr(img, "n_frames", 1)
    if n_frames <= 1:
        return 1, 0
    total_ms = 0
    for i in range(min(n_frames, _MAX_FRAMES_COUNTED)):
        img.seek(i)  # reads frame headers; the pixels stay undecoded
        total_ms += int(img.info.get("duration") or 0)
    return n_frames, total_ms
