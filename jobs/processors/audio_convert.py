"""audio.convert: transcode the first audio track to mp3, wav, ogg, flac, aac or m4a.

Params: ``format`` (required), ``codec`` (ogg only: opus, the default, or
vorbis), ``bitrate`` (32000..320000 bit/s, lossy formats except Vorbis;
defaults below), ``sample_rate`` (8000..48000 Hz, default the input's).
Encoders are the ones bundled with PyAV's FFmpeg:

    mp3         libmp3lame in MP3              (audio/mpeg)
    wav         pcm_s16le in WAV               (audio/wav)
    ogg         libopus in Ogg                 (audio/ogg)
    ogg+vorbis  FFmpeg's vorbis in Ogg         (audio/ogg)
    flac        flac (16-bit) in FLAC          (audio/flac)
    aac         FFmpeg's aac in ADTS           (audio/aac)
    m4a         FFmpeg's aac in M4A, faststart (audio/mp4)

A codec that cannot store the requested (or input) sample rate gets the
nearest one it can (MP3 and AAC take the standard rates); ``output.sample_rate``
is the rate of the file written. Opus encodes at 8/12/16/24/48 kHz but
always decodes at 48 kHz, so Ogg Opus output reports 48000 whatever was asked
(a lower rate narrows the encoded bandwidth). FFmpeg's Vorbis encoder (there
is no libvorbis) is flagged experimental, encodes at a fixed quality (it has
no bit rate control, so ``bitrate`` is refused) and takes stereo only: mono
is duplicated, more channels are downmixed. MP3, Ogg Opus, AAC and M4A output
is mono or stereo (more channels are downmixed); WAV and FLAC keep up to 8
channels.
"""

from __future__ import annotations

import os
from fractions import Fraction

from .base import (
    CORRUPT_INPUT,
    PROCESSING_FAILED,
    UNSUPPORTED_INPUT,
    Choice,
    Integer,
    ParamsInvalid,
    ProcessingError,
    ProcessorContext,
    ProcessorResult,
    Progress,
    check_complete,
    decode_frames,
    media_duration,
    guard,
    open_media,
    require_input_kind,
    validate_schema,
)

TYPE = "audio.convert"
CLASS = "medium"
INPUT_KINDS = {"audio"}

# format: (muxer, encoder, sample format, content type, default bit rate or None if lossless, max channels)
FORMATS = {
    "mp3": ("mp3", "libmp3lame", "s16p", "audio/mpeg", 192_000, 2),
    "wav": ("wav", "pcm_s16le", "s16", "audio/wav", None, 8),
    "ogg": ("ogg", "libopus", "s16", "audio/ogg", 128_000, 2),
    "flac": ("flac", "flac", "s16", "audio/flac", None, 8),
    "aac": ("adts", "aac", "fltp", "audio/aac", 160_000, 2),
    "m4a": ("ipod", "aac", "fltp", "audio/mp4", 160_000, 2),
}
# The index (moov) goes first so players can start before the whole file is in.
MUXER_OPTIONS = {"m4a": {"movflags": "+faststart"}}

# The codecs an Ogg file can hold (``codec`` param) and their encoders; the first is the default.
OGG_CODECS = {"opus": "libopus", "vorbis": "vorbis"}
# FFmpeg's own Vorbis encoder: the only one in this build, and flagged experimental.
VORBIS_OPTIONS = {"strict": "experimental"}

PARAMS = {
    "format": Choice(list(FORMATS), required=True),
    "codec": Choice(list(OGG_CODECS)),
    "bitrate": Integer(32_000, 320_000),
    "sample_rate": Integer(8_000, 48_000),
}


def validate_params(params: dict) -> dict:
    cleaned = validate_schema(PARAMS, params)
    fmt, codec = cleaned["format"], cleaned["codec"]
    details = {}
    if codec is not None and fmt != "ogg":
        details["codec"] = [f"Not supported for {fmt} (only ogg has a choice of codec)"]
    if fmt == "ogg" and codec is None:
        cleaned["codec"] = codec = next(iter(OGG_CODECS))
    if cleaned["bitrate"] is not None:
        if FORMATS[fmt][4] is None:
            details["bitrate"] = [f"Not supported for {fmt} (a lossless format)"]
        elif codec == "vorbis":
            details["bitrate"] = ["Not supported for vorbis (the encoder has no bit rate control)"]
    if details:
        raise ParamsInvalid(details)
    return cleaned


def process(ctx: ProcessorContext) -> ProcessorResult:
    require_input_kind(ctx, TYPE, INPUT_KINDS)
    params = {**{"codec": None, "bitrate": None, "sample_rate": None}, **ctx.params}
    fmt = params["format"]
    encoder_name = OGG_CODECS[params["codec"] or "opus"] if fmt == "ogg" else None
    progress = Progress(ctx.report_progress)
    progress(0, force=True)

    path = os.path.join(ctx.output_dir, f"output.{fmt}")
    container = open_media(ctx.input_path)
    with container, guard("this recording"):
        if not container.streams.audio:
            raise ProcessingError(UNSUPPORTED_INPUT, "Unsupported input: the file has no audio track")
        stream = container.streams.audio[0]
        duration = media_duration(container, stream)
        encoder = AudioEncoder(fmt, stream.codec_context, params["sample_rate"], params["bitrate"], encoder_name)
        with encoder.open_output(path) as out:
            ostream = encoder.add_stream(out)
            for frame in decode_frames(container, [stream]):
                encoder.encode(out, ostream, frame)
                if duration:
                    progress(95 * encoder.seconds_in / duration)
            encoder.flush(out, ostream)
        if encoder.samples_in == 0:
            raise ProcessingError(CORRUPT_INPUT, "Invalid input: no audio could be decoded")
        check_complete(container, encoder.seconds_in, duration)

    from .probe import probe_media

    facts = probe_media(path)
    audio = next(s for s in facts["streams"] if s["type"] == "audio")
    progress.done()
    return ProcessorResult(
        output={
            "format": fmt,
            "codec": audio["codec"],
            # What was decoded: the container's figure is an estimate for ADTS
            # and includes encoder padding for the others.
            "duration": round(encoder.seconds_in, 3),
            "sample_rate": audio["sample_rate"],
            "channels": audio["channels"],
            "bit_rate": audio["bit_rate"] or facts["bit_rate"],
            "size_bytes": os.path.getsize(path),
        },
        output_file=path,
        output_content_type=FORMATS[fmt][3],
    )


class AudioEncoder:
    """Encode decoded audio frames into one output format (shared with video.convert)."""

    def __init__(self, fmt: str, input_codec_context, sample_rate: int | None, bitrate: int | None,
                 encoder_name: str | None = None):
        import av

        _muxer, encoder, sample_format, _ct, default_bitrate, max_channels = FORMATS[fmt]
        self.fmt = fmt
        self.encoder_name = encoder_name or encoder
        codec = av.codec.Codec(self.encoder_name, "w")
        self.sample_format = sample_format
        if codec.audio_formats and sample_format not in [f.name for f in codec.audio_formats]:
            self.sample_format = codec.audio_formats[0].name
        self.rate = _nearest_rate(sample_rate or input_codec_context.sample_rate or 44_100, codec.audio_rates)
        channels = max(1, min(input_codec_context.channels or 2, max_channels))
        self.options = {}
        if self.encoder_name == "vorbis":
            channels = 2  # the encoder refuses anything but stereo
            self.options = VORBIS_OPTIONS
            default_bitrate = None  # it ignores bit_rate: its output would misreport the rate
        self.layout = {1: "mono", 2: "stereo"}.get(channels) or av.AudioLayout(channels).name
        self.bitrate = bitrate or default_bitrate
        self.samples_in = 0
        self.seconds_decoded = 0.0

    def open_output(self, path: str):
        import av

        try:
            return av.open(path, "w", format=FORMATS[self.fmt][0],
                           container_options=MUXER_OPTIONS.get(self.fmt, {}))
        except av.error.FFmpegError as exc:
            raise ProcessingError(PROCESSING_FAILED, f"Could not create the output file ({exc})") from None

    def add_stream(self, out):
        stream = out.add_stream(self.encoder_name, rate=self.rate, layout=self.layout)
        stream.codec_context.format = self.sample_format
        if self.options:
            stream.codec_context.options = dict(self.options)
        if self.bitrate:
            stream.codec_context.bit_rate = self.bitrate
        return stream

    @property
    def seconds_in(self) -> float:
        return self.seconds_decoded

    def encode(self, out, stream, frame) -> None:
        # PyAV resamples to the encoder's format/rate/layout and re-chunks to its
        # frame size. Timestamps are regenerated from the sample count (the Ogg
        # muxer writes Vorbis granule positions from them: without, the
        # file's duration is wrong).
        rate = frame.sample_rate or self.rate
        frame.pts, frame.time_base = round(self.seconds_decoded * rate), Fraction(1, rate)
        self.samples_in += frame.samples
        self.seconds_decoded += frame.samples / rate
        out.mux(stream.encode(frame))

    def flush(self, out, stream) -> None:
        out.mux(stream.encode(None))


def _nearest_rate(rate: int, supported) -> int:
    """``rate`` if the codec takes it, else the closest supported rate (ties go up)."""
    if not supported or rate in supported:
        return rate
    return min(supported, key=lambda r: (abs(r - rate), -r))
