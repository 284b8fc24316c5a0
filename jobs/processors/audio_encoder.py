"""Encoding decoded audio frames into one of the audio formats, with the
encoders bundled with PyAV's FFmpeg: audio.convert's output, and the sound
track of video.convert's.

PyAV is imported inside the methods: importing this module is cheap.
"""

from __future__ import annotations

from fractions import Fraction

from jobs.processing_errors import PROCESSING_FAILED, ProcessingError

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

# The codecs an Ogg file can hold (audio.convert's ``codec`` param) and their
# encoders; the first is the default.
OGG_CODECS = {"opus": "libopus", "vorbis": "vorbis"}
# FFmpeg's own Vorbis encoder: the only one in this build, and flagged experimental.
VORBIS_OPTIONS = {"strict": "experimental"}


class AudioEncoder:
    """Encode decoded audio frames into one output format (a key of ``FORMATS``)."""

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
