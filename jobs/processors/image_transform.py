"""image.transform: resize, convert and strip metadata (Pillow).

Params: ``width``/``height`` (1..10000, optional), ``fit`` (contain | cover |
fill, default contain), ``format`` (jpeg | png | webp; default the input's
format when it is one of those, else png), ``quality`` (1..100, default 85;
used by jpeg and webp).

Sizing: with neither width nor height the size is kept; with one of them the
other follows the aspect ratio; with both, ``contain`` fits inside the box
(aspect kept, may be smaller on one side), ``cover`` fills the box and crops
the overflow around the centre, ``fill`` stretches to exactly the box.
Images are scaled up as well as down.

The EXIF orientation is applied first; then every piece of metadata is
dropped (EXIF, GPS, XMP, comments, ICC profile after converting the pixels
to sRGB).

Animated input (GIF, animated WebP): written as WebP, every frame is kept
(with its duration and loop count); written as JPEG or PNG, only the first
frame is. As GIF is not an output format, an animated GIF keeps its
animation only when ``format`` is ``webp``.

Decompression bombs are refused from the header, before any pixel is
decoded: more than 100 megapixels (or, for animations, more than 400
megapixels over all frames) is INPUT_TOO_LARGE.
"""

from __future__ import annotations

import io
import math
import os
import warnings

from jobs.processing_errors import CORRUPT_INPUT, INPUT_TOO_LARGE, INVALID_PARAMS, ProcessingError
from jobs.processors.base import Input, Output, Processor, Progress, guard
from jobs.processors.media import MAX_IMAGE_PIXELS
from jobs.processors.params import ChoiceParam, IntegerParam, ParamsSerializer

FORMATS = ["jpeg", "png", "webp"]


class ImageTransformParams(ParamsSerializer):
    """image.transform: the output size, fit, format and quality. Neither width nor
    height: the size is kept; one of them: the other follows the aspect ratio."""

    width = IntegerParam(1, 10000, help_text="Pixels; alone, the height follows the aspect ratio")
    height = IntegerParam(1, 10000, help_text="Pixels; alone, the width follows the aspect ratio")
    fit = ChoiceParam(["contain", "cover", "fill"], default="contain",
                      help_text="With both width and height: fit inside, fill and crop, or stretch")
    format = ChoiceParam(FORMATS, help_text="Default: the input's format when it is one of these, else png")
    quality = IntegerParam(1, 100, default=85, help_text="jpeg and webp")


MAX_OUTPUT_PIXELS = 100_000_000
MAX_ANIMATION_PIXELS = 400_000_000  # all frames together, in and out
MAX_ANIMATION_FRAMES = 2_000

_CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp"}


def run(source: Input, params: dict, progress: Progress) -> Output:
    from PIL import Image

    try:
        with warnings.catch_warnings(), guard("this image"):
            # Our own pixel limit applies; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source.path) as img:
                frames, durations, loop, out_format = _render(img, params, progress)
    except Image.DecompressionBombError:
        raise _too_large() from None
    except (MemoryError, ProcessingError):
        raise
    except Exception as exc:
        # Pillow raises OSError ("image file is truncated"), ValueError, SyntaxError,
        # IndexError, EOFError... on malformed files.
        raise ProcessingError(CORRUPT_INPUT, f"Invalid input: the image could not be decoded ({exc})") from None

    path = source.output_path(f"output.{_EXTENSIONS[out_format]}")
    with guard("this image"):
        _save(frames, durations, loop, out_format, params["quality"], path)
    return Output(
        {
            "width": frames[0].width,
            "height": frames[0].height,
            "format": out_format,
            "size_bytes": os.path.getsize(path),
            "frames": len(frames),
        },
        file=path,
        content_type=_CONTENT_TYPES[out_format],
    )


def _too_large(width: int | None = None, height: int | None = None) -> ProcessingError:
    size = f" ({width}x{height})" if width else ""
    return ProcessingError(
        INPUT_TOO_LARGE,
        f"Input too large: the image{size} exceeds the limit of {MAX_IMAGE_PIXELS // 1_000_000} megapixels",
    )


def _render(img, params: dict, progress: Progress) -> tuple[list, list[int], int, str]:
    """Check the limits, then decode and transform: (frames, frame durations in ms, loop count, format)."""
    src_format = (img.format or "").lower()
    width, height = img.size  # from the header: nothing decoded yet
    if width * height > MAX_IMAGE_PIXELS:
        raise _too_large(width, height)
    out_format = params["format"] or (src_format if src_format in FORMATS else "png")
    n_frames = getattr(img, "n_frames", 1) if out_format == "webp" else 1

    target = _target_size(_oriented_size(img), params)
    if target[0] * target[1] > MAX_OUTPUT_PIXELS:
        raise ProcessingError(
            INVALID_PARAMS,
            f"Invalid params: the output would be {target[0]}x{target[1]}, "
            f"over the limit of {MAX_OUTPUT_PIXELS // 1_000_000} megapixels",
        )
    if n_frames > 1 and (
        n_frames > MAX_ANIMATION_FRAMES
        or n_frames * max(width * height, target[0] * target[1]) > MAX_ANIMATION_PIXELS
    ):
        raise ProcessingError(
            INPUT_TOO_LARGE,
            f"Input too large: the animation has {n_frames} frames of {width}x{height}; "
            f"at most {MAX_ANIMATION_FRAMES} frames and {MAX_ANIMATION_PIXELS // 1_000_000} megapixels in all",
        )

    frames, durations = [], []
    for index in range(n_frames):
        img.seek(index)
        frames.append(_render_frame(img, params, out_format, target))
        durations.append(int(img.info.get("duration") or 100))
        progress(90 * (index + 1) / n_frames)
    return frames, durations, int(img.info.get("loop", 0) or 0), out_format


def _orientation(img) -> int:
    try:
        orientation = int(img.getexif().get(0x0112, 1))
    except Exception:  # unreadable EXIF is ignored, as viewers do
        return 1
    return orientation if 1 <= orientation <= 8 else 1


def _oriented_size(img) -> tuple[int, int]:
    """The size the image is displayed at, once its EXIF orientation is applied."""
    w, h = img.size
    return (h, w) if _orientation(img) in (5, 6, 7, 8) else (w, h)


def _target_size(size: tuple[int, int], params: dict) -> tuple[int, int]:
    w, h = size
    tw, th = params["width"], params["height"]
    if tw is None and th is None:
        return w, h
    if tw is None:
        return max(1, round(w * th / h)), th
    if th is None:
        return tw, max(1, round(h * tw / w))
    if params["fit"] == "contain":
        scale = min(tw / w, th / h)
        return max(1, min(tw, round(w * scale))), max(1, min(th, round(h * scale)))
    return tw, th  # cover (cropped later) and fill


def _draft_size(img, params: dict, target: tuple[int, int]) -> tuple[int, int]:
    """The smallest decode size (in stored orientation) that still yields ``target``."""
    w, h = _oriented_size(img)
    if params["fit"] == "cover" and params["width"] and params["height"]:
        scale = max(target[0] / w, target[1] / h)
        need = (math.ceil(w * scale), math.ceil(h * scale))
    else:
        need = target
    return (need[1], need[0]) if _orientation(img) in (5, 6, 7, 8) else need


# EXIF orientation -> the transposition that displays the image upright.
_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
              6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}


def _render_frame(img, params: dict, out_format: str, target: tuple[int, int]):
    """Decode the current frame and return a new, metadata-free image at ``target`` size."""
    from PIL import Image, ImageOps

    orientation = _orientation(img)
    if img.format == "JPEG":
        # libjpeg can decode at 1/2, 1/4 or 1/8 scale: faster and far less memory.
        img.draft("RGB", _draft_size(img, params, target))
    if img.mode == "P":
        frame = img.convert("RGBA" if "transparency" in img.info else "RGB")
    else:
        frame = img.copy()
    if orientation != 1:
        frame = frame.transpose(getattr(Image.Transpose, _TRANSPOSE[orientation]))
    frame = _to_srgb(frame, img.info.get("icc_profile"))
    frame = _normalize_mode(frame, out_format)

    if frame.size != target:
        if params["fit"] == "cover" and params["width"] and params["height"]:
            frame = ImageOps.fit(frame, target, method=Image.Resampling.LANCZOS)
        else:
            frame = frame.resize(target, Image.Resampling.LANCZOS)
    # A fresh image carries pixels only: no EXIF, XMP, comments or ICC.
    clean = Image.new(frame.mode, frame.size)
    clean.paste(frame)
    return clean


def _to_srgb(frame, icc: bytes | None):
    """Convert pixels from an embedded ICC profile to sRGB, so dropping it keeps the colours."""
    if not icc or frame.mode not in ("RGB", "RGBA", "CMYK"):
        return frame
    try:
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out_mode = "RGBA" if frame.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(frame, src, ImageCms.createProfile("sRGB"), outputMode=out_mode)
    except Exception:  # a broken profile is dropped, the pixels are kept as they are
        return frame


def _normalize_mode(frame, out_format: str):
    """Convert to a mode the output format stores (JPEG has no alpha: flatten on white)."""
    from PIL import Image

    has_alpha = frame.mode in ("RGBA", "LA", "PA", "RGBa", "La")
    if out_format == "jpeg":
        if has_alpha:
            rgba = frame.convert("RGBA")
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            return background
        return frame if frame.mode in ("RGB", "L") else frame.convert("RGB")
    if out_format == "png" and frame.mode in ("RGB", "RGBA", "L", "LA"):
        return frame
    if frame.mode.startswith("I"):
        # 16/32-bit greyscale: scale to 8 bits (a plain convert would clip at 255).
        frame = frame.convert("I").point(lambda v: v * (1 / 256)).convert("L")
        return frame if out_format == "png" else frame.convert("RGB")
    return frame.convert("RGBA" if has_alpha else "RGB")


def _save(frames: list, durations: list[int], loop: int, out_format: str, quality: int, path: str) -> None:
    if out_format == "jpeg":
        frames[0].save(path, "JPEG", quality=quality, optimize=True)
    elif out_format == "png":
        frames[0].save(path, "PNG", optimize=len(frames[0].getbands()) * frames[0].width * frames[0].height < 4_000_000)
    elif len(frames) > 1:
        frames[0].save(path, "WEBP", quality=quality, save_all=True, append_images=frames[1:],
                       duration=durations, loop=loop or 0)
    else:
        frames[0].save(path, "WEBP", quality=quality)


PROCESSOR = Processor(
    type="image.transform",
    input_kinds={"image"},
    timeout_class="short",
    params=ImageTransformParams,
    run=run,
)
