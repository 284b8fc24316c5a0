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

from jobs.processing_errors import CORRUPT_INPUT, INPUT_TOO_LARGE, ProcessingError
from jobs.processors.base import Input, Output, Processor, Progress, guard
from jobs.processors.media import probe_media
from jobs.processors.params import ParamsSerializer


class ProbeParams(ParamsSerializer):
    """media.probe takes no params."""


# Friendly format names for what the sniffer calls an extension.
_FORMAT_NAMES = {"jpg": "jpeg"}

# Animated images: frames counted for the duration, at most this many.
_MAX_FRAMES_COUNTED = 10_000


def run(source: Input, params: dict, progress: Progress) -> Output:
    facts = probe_image(source.path) if source.kind == "image" else probe_media(source.path)
    return Output({
        "format": _FORMAT_NAMES.get(source.extension, source.extension),
        "content_type": source.content_type,
        **facts,
        "size_bytes": os.path.getsize(source.path),
    })


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


PROCESSOR = Processor(
    type="media.probe",
    input_kinds={"video", "audio", "image"},
    timeout_class="short",
    params=ProbeParams,
    run=run,
)
