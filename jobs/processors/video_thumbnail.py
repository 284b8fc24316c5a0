"""video.thumbnail: the frame shown at ``at_seconds``, as JPEG or PNG.

Params: ``at_seconds`` (number >= 0, default 1.0; past the end means the
last frame), ``format`` (jpeg | png, default jpeg), ``width`` (1..10000,
optional; the height follows the aspect ratio).

The frame is the one on screen at that time (the last frame starting at or
before it). Display rotation (phone videos) and non-square pixels are
applied, so the picture looks as it does in a player.
"""

from __future__ import annotations

import os

from jobs.processing_errors import CORRUPT_INPUT, ProcessingError
from jobs.processors.base import Input, Output, Processor, Progress, guard
from jobs.processors.media import check_video_stream, decode_frames, media_duration, open_media, video_stream
from jobs.processors.params import ChoiceParam, IntegerParam, NumberParam, ParamsSerializer


class VideoThumbnailParams(ParamsSerializer):
    """video.thumbnail: which frame, in which format, at which width."""

    at_seconds = NumberParam(min_value=0, default=1.0, help_text="The time of the frame; past the end: the last frame")
    format = ChoiceParam(["jpeg", "png"], default="jpeg")
    width = IntegerParam(1, 10000, help_text="Pixels; the height follows the aspect ratio. Default: the video's")


JPEG_QUALITY = 90


def run(source: Input, params: dict, progress: Progress) -> Output:
    image, at_seconds = _grab(source.path, params["at_seconds"], progress)
    if params["width"]:
        from PIL import Image

        height = max(1, round(image.height * params["width"] / image.width))
        image = image.resize((params["width"], height), Image.Resampling.LANCZOS)

    fmt = params["format"]
    path = source.output_path("thumbnail." + ("jpg" if fmt == "jpeg" else "png"))
    if fmt == "jpeg":
        image.save(path, "JPEG", quality=JPEG_QUALITY)
    else:
        image.save(path, "PNG")
    return Output(
        {
            "width": image.width,
            "height": image.height,
            "format": fmt,
            "at_seconds": at_seconds,
            "requested_at_seconds": params["at_seconds"],
            "size_bytes": os.path.getsize(path),
        },
        file=path,
        content_type="image/jpeg" if fmt == "jpeg" else "image/png",
    )


def _grab(path: str, at_seconds: float, progress: Progress):
    """Return (PIL image, actual frame time) for the frame on screen at ``at_seconds``."""
    found = _grab_once(path, at_seconds, progress, seek=at_seconds > 0)
    if found is None and at_seconds > 0:
        # The seek failed or overshot (no index, odd timestamps): decode from the start.
        found = _grab_once(path, at_seconds, progress, seek=False)
    if found is None:
        raise ProcessingError(CORRUPT_INPUT, "Invalid input: no video frame could be decoded")
    return found


def _grab_once(path: str, at_seconds: float, progress: Progress, seek: bool):
    import av

    container = open_media(path)
    with container, guard("this video"):
        stream = video_stream(container)
        check_video_stream(stream)
        stream.thread_type = "AUTO"
        duration = media_duration(container, stream)
        target = min(at_seconds, duration) if duration else at_seconds
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        if seek:
            try:
                container.seek(int((start + target) / stream.time_base), stream=stream, backward=True)
            except av.error.FFmpegError:
                return None
        found = _decode_until(container, stream, start, target, progress)
        if found is None:
            return None
        frame, frame_time = found
        return _display_image(frame, stream), round(frame_time, 3)


def _decode_until(container, stream, start: float, target: float, progress: Progress):
    """Decode forward; the last frame starting at or before ``target`` (or the first one after)."""
    best = None
    index = 0
    for frame in decode_frames(container, [stream]):
        index += 1
        t = (frame.time - start) if frame.time is not None else index / float(stream.guessed_rate or 25)
        if best is not None and t > target + 1e-6:
            break
        best = (frame, max(0.0, t))
        if target > 0:
            progress(90 * min(1.0, t / target))
        if t >= target - 1e-6:
            break
    return best


def _display_image(frame, stream):
    """The frame as a PIL image, as a player shows it: rotated, square pixels."""
    from PIL import Image

    image = frame.to_image()
    sar = stream.codec_context.sample_aspect_ratio
    if sar and sar != 1 and 0.1 < float(sar) < 10:
        image = image.resize((max(1, round(image.width * float(sar))), image.height), Image.Resampling.LANCZOS)
    rotation = (getattr(frame, "rotation", 0) or 0) % 360
    transpose = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}
    if rotation in transpose:
        image = image.transpose(transpose[rotation])
    return image


PROCESSOR = Processor(
    type="video.thumbnail",
    input_kinds={"video"},
    timeout_class="short",
    params=VideoThumbnailParams,
    run=run,
)
