"""video.convert: transcode to MP4 (H.264 + AAC) or WebM (VP9 + Opus).

Params: ``format`` (mp4 | webm, default mp4), ``max_height`` (16..4320,
optional): frames taller than that (as displayed) are scaled down to it,
keeping the aspect ratio; dimensions are always made even (4:2:0 needs it).

Encoders bundled with PyAV's FFmpeg, tuned for throughput (a long job must
finish within its timeout on two cores):

    mp4   libx264 (preset veryfast, CRF 23, yuv420p) + aac 128 kbit/s, faststart
    webm  libvpx-vp9 (realtime, cpu-used 6, row-mt, CRF 32) + libopus 128 kbit/s

The first video track and the first audio track (if any) are kept; other
tracks, subtitles and metadata are dropped. The display rotation of phone
videos is carried over as metadata (not re-rendered). The frame rate is
the input's average rate (constant frame rate output, 1..120 fps);
duplicate timestamps are dropped. Progress is the position in the video.
"""

from __future__ import annotations

import os
from fractions import Fraction

from jobs.processing_errors import CORRUPT_INPUT, PROCESSING_FAILED, ProcessingError
from jobs.processors.audio_encoder import AudioEncoder
from jobs.processors.base import Input, Output, Processor, Progress, guard
from jobs.processors.media import (
    check_complete,
    check_video_stream,
    decode_frames,
    media_duration,
    open_media,
    probe_media,
    video_stream,
)
from jobs.processors.params import ChoiceParam, IntegerParam, ParamsSerializer


class VideoConvertParams(ParamsSerializer):
    """video.convert: the output format and an optional height limit (dimensions stay even)."""

    format = ChoiceParam(["mp4", "webm"], default="mp4", help_text="mp4: H.264 + AAC; webm: VP9 + Opus")
    max_height = IntegerParam(16, 4320, help_text="Taller frames (as displayed) are scaled down to this height")


# format: (muxer, muxer options, video encoder, encoder options, audio format for AudioEncoder, content type)
FORMATS = {
    "mp4": ("mp4", {"movflags": "+faststart"}, "libx264",
            {"preset": "veryfast", "crf": "23", "profile": "high"}, "aac", "video/mp4"),
    "webm": ("webm", {}, "libvpx-vp9",
             {"deadline": "realtime", "cpu-used": "6", "row-mt": "1", "crf": "32", "b": "0"}, "ogg", "video/webm"),
}
AUDIO_BITRATE = 128_000
DEFAULT_FPS = Fraction(30)
MAX_FPS = 120


def run(source: Input, params: dict, progress: Progress) -> Output:
    import av

    fmt = params["format"]
    muxer, muxer_options, vcodec, vcodec_options, audio_format, content_type = FORMATS[fmt]

    rotation = _first_frame_rotation(source.path)
    path = source.output_path(f"output.{fmt}")
    container = open_media(source.path)
    with container, guard("this video"):
        vstream = video_stream(container)
        width, height = check_video_stream(vstream)
        vstream.thread_type = "AUTO"
        astream = next((s for s in container.streams.audio if s.codec_context is not None), None)
        duration = media_duration(container, vstream)
        start = container.start_time / 1_000_000 if container.start_time is not None else 0.0
        fps = _output_fps(vstream)
        out_w, out_h = _output_size(width, height, rotation, params["max_height"])

        try:
            out = av.open(path, "w", format=muxer, container_options=muxer_options)
        except av.error.FFmpegError as exc:
            raise ProcessingError(PROCESSING_FAILED, f"Could not create the output file ({exc})") from None
        with out:
            vout = out.add_stream(vcodec, rate=fps)
            vout.width, vout.height, vout.pix_fmt = out_w, out_h, "yuv420p"
            vout.codec_context.time_base = 1 / fps
            vout.options = dict(vcodec_options)
            if vstream.codec_context.sample_aspect_ratio:
                vout.codec_context.sample_aspect_ratio = vstream.codec_context.sample_aspect_ratio
            if rotation:
                vout.set_display_rotation(rotation)
            audio_encoder = aout = None
            if astream is not None:
                audio_encoder = AudioEncoder(audio_format, astream.codec_context, None, AUDIO_BITRATE)
                aout = audio_encoder.add_stream(out)

            last_pts, frames_out = -1, 0
            streams = [vstream] + ([astream] if astream is not None else [])
            for frame in decode_frames(container, streams):
                if isinstance(frame, av.AudioFrame):
                    audio_encoder.encode(out, aout, frame)
                    continue
                t = (frame.time - start) if frame.time is not None else (last_pts + 1) / float(fps)
                pts = round(t * fps)
                if pts <= last_pts:
                    continue  # a duplicate (or backwards) timestamp: constant frame rate output
                last_pts = pts
                picture = frame.reformat(width=out_w, height=out_h, format="yuv420p", interpolation="BILINEAR")
                picture.pts, picture.time_base = pts, 1 / fps
                out.mux(vout.encode(picture))
                frames_out += 1
                if duration:
                    progress(97 * t / duration)
            if frames_out == 0:
                raise ProcessingError(CORRUPT_INPUT, "Invalid input: no video frame could be decoded")
            audio_seconds = audio_encoder.seconds_in if audio_encoder is not None else 0.0
            check_complete(container, max((last_pts + 1) / float(fps), audio_seconds), duration)
            out.mux(vout.encode(None))
            if audio_encoder is not None:
                audio_encoder.flush(out, aout)

    facts = probe_media(path)
    video = next(s for s in facts["streams"] if s["type"] == "video")
    audio = next((s for s in facts["streams"] if s["type"] == "audio"), None)
    shown_w, shown_h = (video["height"], video["width"]) if rotation % 180 == 90 else (video["width"], video["height"])
    return Output(
        {
            "format": fmt,
            "width": shown_w,
            "height": shown_h,
            "rotation": rotation,
            "duration": facts["duration"],
            "fps": video["fps"],
            "video_codec": video["codec"],
            "audio_codec": audio["codec"] if audio else None,
            "bit_rate": facts["bit_rate"],
            "size_bytes": os.path.getsize(path),
        },
        file=path,
        content_type=content_type,
    )


def _first_frame_rotation(path: str) -> int:
    """The display rotation (degrees counter-clockwise, 0/90/180/270) of the video.

    PyAV exposes it on decoded frames only, and the output header (written
    at the first packet) must carry it, so peek at the first frame.
    """
    container = open_media(path)
    with container, guard("this video"):
        stream = video_stream(container)
        check_video_stream(stream)
        for frame in decode_frames(container, [stream]):
            return round((getattr(frame, "rotation", 0) or 0) / 90) * 90 % 360
    return 0


def _output_fps(stream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate
    if not rate or not 1 <= rate <= MAX_FPS:
        return DEFAULT_FPS
    return Fraction(rate).limit_denominator(1001)


def _output_size(width: int, height: int, rotation: int, max_height: int | None) -> tuple[int, int]:
    """Stored (pre-rotation) size, scaled so the displayed height is at most ``max_height``; even."""
    shown_h = width if rotation % 180 == 90 else height
    scale = min(1.0, max_height / shown_h) if max_height else 1.0

    def even(x: float) -> int:
        return max(2, int(round(x / 2)) * 2)

    return even(width * scale), even(height * scale)


PROCESSOR = Processor(
    type="video.convert",
    input_kinds={"video"},
    timeout_class="long",
    params=VideoConvertParams,
    run=run,
)
