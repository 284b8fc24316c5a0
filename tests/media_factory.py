"""Generate small, real test media on the fly (no binary fixtures needed).

Every ``make_*`` function writes one file at ``path`` and returns ``path`` as
a ``str``. Defaults are tiny (1 s, 320x240) so tests stay fast. Video and
audio are encoded with PyAV, images with Pillow, DOCX with python-docx, PDF
with hand-written bytes (so the text layer is exactly what we put in).

    from tests.media_factory import make_mp4, make_wav
    mp4 = make_mp4(tmp_path / "clip.mp4", seconds=2)
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from fractions import Fraction
from pathlib import Path

PathLike = str | os.PathLike

# Documents and broken inputs live in tests/document_factory.py; imported here so
# every test keeps one place to import media from.

# --------------------------------------------------------------------------
# Images (Pillow)
# --------------------------------------------------------------------------


def _gradient(w: int, h: int, mode: str = "RGB"):
    """A non-trivial picture: a colour gradient with a white square top-left."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (w, h))
    px = Image.linear_gradient("L").resize((w, h))
    img = Image.merge("RGB", (px, px.transpose(Image.Transpose.ROTATE_90).resize((w, h)), Image.new("L", (w, h), 96)))
    ImageDraw.Draw(img).rectangle([0, 0, max(0, w // 4 - 1), max(0, h // 4 - 1)], fill=(255, 255, 255))
    return img.convert(mode) if mode != "RGB" else img


def make_png(path: PathLike, w: int = 64, h: int = 48, mode: str = "RGB") -> str:
    _gradient(w, h, mode).save(path, "PNG")
    return str(path)


def make_jpeg(path: PathLike, w: int = 64, h: int = 48, quality: int = 90) -> str:
    _gradient(w, h).save(path, "JPEG", quality=quality)
    return str(path)


def make_exif_rotated_jpeg(path: PathLike, w: int = 80, h: int = 40, orientation: int = 6) -> str:
    """A ``w``x``h`` JPEG whose EXIF says to display it rotated (6 = 90° clockwise).

    Displayed correctly it is ``h``x``w``. It also carries a camera Make, a
    location-like description and an sRGB ICC profile, so tests can check
    that metadata is stripped.
    """
    from PIL import Image, ImageCms

    img = _gradient(w, h)
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "AcmeCam"  # Make
    exif[0x010E] = "secret location 51.5N 0.1W"  # ImageDescription
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    img.save(path, "JPEG", quality=90, exif=exif.tobytes(), icc_profile=icc)
    return str(path)


def make_webp(path: PathLike, w: int = 64, h: int = 48) -> str:
    _gradient(w, h).save(path, "WEBP", quality=80)
    return str(path)


def make_gif(path: PathLike, w: int = 64, h: int = 48, frames: int = 1) -> str:
    """A GIF; with ``frames`` > 1 an animated one (100 ms per frame, looping)."""
    from PIL import ImageDraw

    images = []
    for i in range(frames):
        img = _gradient(w, h)
        ImageDraw.Draw(img).rectangle([i * 3 % w, h // 2, i * 3 % w + 5, h // 2 + 5], fill=(255, 0, 0))
        images.append(img.convert("P", palette=1, colors=64))
    images[0].save(path, "GIF", save_all=frames > 1, append_images=images[1:], duration=100, loop=0)
    return str(path)


def make_animated_gif(path: PathLike, w: int = 64, h: int = 48, frames: int = 5) -> str:
    return make_gif(path, w, h, frames=frames)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def make_png_bomb(path: PathLike, w: int = 50_000, h: int = 50_000) -> str:
    """A tiny file whose PNG header claims ``w``x``h`` pixels (a decompression bomb).

    Only the header and one compressed row are real: any decoder that trusts
    the header would allocate w*h*3 bytes.
    """
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = zlib.compress(b"\x00" * (1 + w * 3), 9)  # filter byte + one black row
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")
    Path(path).write_bytes(data)
    return str(path)


def make_large_png(path: PathLike, w: int = 5000, h: int = 5000) -> str:
    """A valid all-black RGB PNG of ``w``x``h``, written row by row (the test
    process never holds the pixels), small on disk, big once decoded."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    compressor = zlib.compressobj(1)
    row = b"\x00" * (1 + w * 3)
    idat = bytearray()
    for _ in range(h):
        idat += compressor.compress(row)
    idat += compressor.flush()
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", bytes(idat)) + _png_chunk(b"IEND", b"")
    Path(path).write_bytes(data)
    return str(path)


# --------------------------------------------------------------------------
# Audio and video (PyAV)
# --------------------------------------------------------------------------

AUDIO_FORMATS = {
    # extension: (container format, codec, sample format)
    "wav": ("wav", "pcm_s16le", "s16"),
    "mp3": ("mp3", "libmp3lame", "s16p"),
    "ogg": ("ogg", "libopus", "s16"),
    "flac": ("flac", "flac", "s16"),
    "aac": ("adts", "aac", "fltp"),
    "m4a": ("ipod", "aac", "fltp"),
}


def _tone_frames(seconds: float, rate: int, layout: str, freq: float = 440.0, frame_size: int = 1024):
    """Yield packed s16 av.AudioFrames of a sine tone (a fifth higher on the right channel)."""
    import array

    import av

    channels = 2 if layout == "stereo" else 1
    total = int(seconds * rate)
    done = 0
    while done < total:
        n = min(frame_size, total - done)
        samples = array.array("h")
        for i in range(done, done + n):
            t = i / rate
            samples.append(int(9000 * math.sin(2 * math.pi * freq * t)))
            if channels == 2:
                samples.append(int(9000 * math.sin(2 * math.pi * freq * 1.5 * t)))
        frame = av.AudioFrame(format="s16", layout=layout, samples=n)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate = rate
        frame.pts = done
        frame.time_base = Fraction(1, rate)
        done += n
        yield frame


def make_audio(path: PathLike, seconds: float = 1.0, rate: int = 44100, layout: str = "mono", ext: str | None = None) -> str:
    """Encode a sine tone into ``path``; the format follows the extension (or ``ext``)."""
    import av

    ext = (ext or str(path).rsplit(".", 1)[-1]).lower()
    fmt, codec, sample_fmt = AUDIO_FORMATS[ext]
    if codec == "libopus":
        rate = 48000
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        stream.codec_context.format = sample_fmt  # type: ignore[attr-defined]
        resampler = av.AudioResampler(format=sample_fmt, layout=layout, rate=rate,
                                      frame_size=stream.codec_context.frame_size or 1024)
        for frame in _tone_frames(seconds, rate, layout):
            for f in resampler.resample(frame):
                f.pts = None
                out.mux(stream.encode(f))
        for f in resampler.resample(None):
            f.pts = None
            out.mux(stream.encode(f))
        out.mux(stream.encode(None))
    return str(path)


def make_wav(path: PathLike, seconds: float = 1.0, rate: int = 44100, layout: str = "mono") -> str:
    return make_audio(path, seconds, rate, layout, "wav")


def make_mp3(path: PathLike, seconds: float = 1.0, rate: int = 44100, layout: str = "mono") -> str:
    return make_audio(path, seconds, rate, layout, "mp3")


def make_ogg(path: PathLike, seconds: float = 1.0, layout: str = "mono") -> str:
    """Ogg Opus (the bundled FFmpeg has libopus; no libvorbis)."""
    return make_audio(path, seconds, 48000, layout, "ogg")


def make_flac(path: PathLike, seconds: float = 1.0, rate: int = 44100, layout: str = "mono") -> str:
    return make_audio(path, seconds, rate, layout, "flac")


def make_silent_flac(path: PathLike, seconds: float = 60.0, rate: int = 48000, layout: str = "stereo") -> str:
    """FLAC of digital silence: a few KB that decode to seconds*rate*channels*2
    bytes of PCM (60 s: ~11 MB of WAV), the shape of an output-size bomb."""
    import av

    channels = 2 if layout == "stereo" else 1
    with av.open(str(path), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, layout=layout)
        stream.codec_context.format = "s16"  # type: ignore[attr-defined]
        done, total, size = 0, int(seconds * rate), 4608
        while done < total:
            n = min(size, total - done)
            frame = av.AudioFrame(format="s16", layout=layout, samples=n)
            frame.planes[0].update(bytes(n * channels * 2))
            frame.sample_rate, frame.pts, frame.time_base = rate, done, Fraction(1, rate)
            out.mux(stream.encode(frame))
            done += n
        out.mux(stream.encode(None))
    return str(path)


def make_aac(path: PathLike, seconds: float = 1.0, rate: int = 44100, layout: str = "mono") -> str:
    """Raw ADTS AAC (what a .aac file is)."""
    return make_audio(path, seconds, rate, layout, "aac")


VIDEO_FORMATS = {
    # extension: (container format, video codec, audio codec or None)
    "mp4": ("mp4", "libx264", "aac"),
    "mov": ("mov", "libx264", "aac"),
    "mkv": ("matroska", "libx264", "libopus"),
    "webm": ("webm", "libvpx", "libopus"),
    "avi": ("avi", "mpeg4", "libmp3lame"),
}


def make_video(path: PathLike, seconds: float = 1.0, width: int = 320, height: int = 240, fps: int = 24,
               audio: bool = True, ext: str | None = None, rotation: int | None = None) -> str:
    """Encode a moving test pattern (and a tone, if ``audio``); format from the extension.

    Frame ``i`` has an 8-pixel white bar at x = 8*i (modulo width-8), so tests
    can tell frames apart.
    ``rotation`` writes a display-matrix rotation (degrees) as phones do.
    """
    import av

    ext = (ext or str(path).rsplit(".", 1)[-1]).lower()
    fmt, vcodec, acodec = VIDEO_FORMATS[ext]
    nframes = max(1, round(seconds * fps))
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream(vcodec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        if vcodec == "libx264":
            vs.options = {"preset": "ultrafast"}
        if vcodec == "libvpx":
            vs.options = {"deadline": "realtime", "cpu-used": "8"}
            vs.bit_rate = 500_000
        if rotation is not None:
            vs.set_display_rotation(rotation)
        astream = resampler = None
        if audio:
            rate = 48000 if acodec == "libopus" else 44100
            astream = out.add_stream(acodec, rate=rate, layout="stereo")
            afmt = astream.codec_context.codec.audio_formats[0].name
            astream.codec_context.format = afmt
            resampler = av.AudioResampler(format=afmt, layout="stereo", rate=rate,
                                          frame_size=astream.codec_context.frame_size or 1024)
        base = _gradient(width, height)
        for i in range(nframes):
            img = base.copy()
            x = (8 * i) % max(1, width - 8)
            img.paste((255, 255, 255), (x, 0, x + 8, height))
            frame = av.VideoFrame.from_image(img).reformat(format="yuv420p")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if astream is not None:
            rate = astream.codec_context.sample_rate
            for frame in _tone_frames(nframes / fps, rate, "stereo"):
                for f in resampler.resample(frame):
                    f.pts = None
                    out.mux(astream.encode(f))
            for f in resampler.resample(None):
                f.pts = None
                out.mux(astream.encode(f))
            out.mux(astream.encode(None))
    return str(path)


def make_mp4(path: PathLike, seconds: float = 1.0, width: int = 320, height: int = 240, fps: int = 24,
             audio: bool = True, rotation: int | None = None) -> str:
    """H.264 + AAC in MP4."""
    return make_video(path, seconds, width, height, fps, audio, "mp4", rotation)


def make_mov(path: PathLike, seconds: float = 1.0, width: int = 320, height: int = 240, fps: int = 24, audio: bool = True) -> str:
    return make_video(path, seconds, width, height, fps, audio, "mov")


def make_mkv(path: PathLike, seconds: float = 1.0, width: int = 320, height: int = 240, fps: int = 24, audio: bool = True) -> str:
    """H.264 + Opus in Matroska."""
    return make_video(path, seconds, width, height, fps, audio, "mkv")


def make_webm(path: PathLike, seconds: float = 1.0, width: int = 320, height: int = 240, fps: int = 24, audio: bool = True) -> str:
    """VP8 + Opus in WebM."""
    return make_video(path, seconds, width, height, fps, audio, "webm")


def make_avi(path: PathLike, seconds: float = 1.0, width: int = 320, height: int = 240, fps: int = 24, audio: bool = True) -> str:
    """MPEG-4 part 2 + MP3 in AVI."""
    return make_video(path, seconds, width, height, fps, audio, "avi")


def make_huge_frame_video(path: PathLike, width: int = 16_000, height: int = 16_000) -> str:
    """A Matroska file whose (raw) video stream claims ``width``x``height`` frames.

    It holds a header and one short packet, so it is tiny; anything that
    decodes before checking the frame size would try to allocate ``w*h`` bytes.
    """
    import av

    with av.open(str(path), "w", format="matroska") as out:
        vs = out.add_stream("rawvideo", rate=1)
        vs.width, vs.height, vs.pix_fmt = width, height, "gray"
        out.start_encoding()
        packet = av.Packet(b"\x00" * 1024)
        packet.stream, packet.pts, packet.dts, packet.time_base = vs, 0, 0, vs.time_base
        out.mux(packet)
    return str(path)


from tests.document_factory import (  # noqa: E402,F401  (re-exported)
    make_pdf,
    make_scanned_pdf,
    make_docx,
    make_txt,
    make_json,
    make_truncated,
    make_corrupt,
    make_garbage,
)
