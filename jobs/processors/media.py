"""Reading media with PyAV, the one way every processor does it.

Inputs are opened with the demuxer of the format the sniffer found in the
bytes, never FFmpeg's own guess, and with the ``file`` protocol only; frame
sizes are checked against the pixel limits before anything is decoded;
demux/decode errors become CORRUPT_INPUT, out of memory INPUT_TOO_LARGE.
Also here: ``probe_media`` (the container facts media.probe reports, which
the converters read back from their output) and ``video_stream``.

PyAV is imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

from typing import Iterator

from jobs.processing_errors import CORRUPT_INPUT, INPUT_TOO_LARGE, UNSUPPORTED_INPUT, ProcessingError
from jobs.processors.base import av_reason, guard, out_of_memory

# Video frames larger than this are refused before any frame is decoded
# (8K UHD is 33.2 MP). Decoders also get it as ``max_pixels``.
MAX_VIDEO_PIXELS = 40_000_000
MAX_VIDEO_SIDE = 16384
# Still images: the pixel limit checked on the header, before decoding.
MAX_IMAGE_PIXELS = 100_000_000

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
        raise out_of_memory("the input") from None
    except av.error.FFmpegError as exc:
        raise ProcessingError(
            CORRUPT_INPUT, f"Invalid input: the file could not be read as media ({av_reason(exc)})"
        ) from None


def video_stream(container):
    """The main video stream (cover art in audio files does not count)."""
    import av

    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise ProcessingError(UNSUPPORTED_INPUT, "Unsupported input: the file has no video stream")


def check_video_stream(stream) -> tuple[int, int]:
    """Refuse video streams without a frame size or with an absurd one (before decoding)."""
    width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
    if width <= 0 or height <= 0:
        raise ProcessingError(CORRUPT_INPUT, "Invalid input: the video stream has no frame size")
    if width * height > MAX_VIDEO_PIXELS or max(width, height) > MAX_VIDEO_SIDE:
        raise ProcessingError(
            INPUT_TOO_LARGE,
            f"Input too large: video frames are {width}x{height}; "
            f"the limit is {MAX_VIDEO_PIXELS // 1_000_000} megapixels and {MAX_VIDEO_SIDE} pixels per side",
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
            raise out_of_memory("the input") from None
        except av.error.FFmpegError as exc:
            raise ProcessingError(
                CORRUPT_INPUT, f"Invalid input: the file is truncated or corrupt ({av_reason(exc)})"
            ) from None
        try:
            frames = packet.decode()
        except MemoryError:
            raise out_of_memory("the input") from None
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


# --------------------------------------------------------------------------
# Container facts (media.probe's output; the converters read their own output back).
# --------------------------------------------------------------------------


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
    """Container facts for an audio/video file: format_name, duration, bit_rate, streams."""
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
