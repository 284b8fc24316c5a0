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

from jobs.processing_errors import CORRUPT_INPUT, UNSUPPORTED_INPUT, ProcessingError
from jobs.processors.audio_encoder import FORMATS, OGG_CODECS, AudioEncoder
from jobs.processors.base import Input, Output, Processor, Progress, guard
from jobs.processors.media import check_complete, decode_frames, media_duration, open_media, probe_media
from jobs.processors.params import ChoiceParam, IntegerParam, ParamsSerializer, ValidationError


class AudioConvertParams(ParamsSerializer):
    """audio.convert: the output format (required) and, optionally, its codec, bit rate and
    sample rate. `codec` is for ogg only; `bitrate` is refused for wav, flac and ogg+vorbis."""

    format = ChoiceParam(list(FORMATS), required=True, help_text="The output format")
    codec = ChoiceParam(list(OGG_CODECS), help_text="ogg only; default opus")
    bitrate = IntegerParam(32_000, 320_000, help_text="bit/s; lossy formats except ogg+vorbis")
    sample_rate = IntegerParam(8_000, 48_000, help_text="Hz; default the input's")

    def validate(self, attrs: dict) -> dict:
        fmt, codec = attrs["format"], attrs["codec"]
        details = {}
        if codec is not None and fmt != "ogg":
            details["codec"] = [f"Not supported for {fmt} (only ogg has a choice of codec)"]
        if fmt == "ogg" and codec is None:
            attrs["codec"] = codec = next(iter(OGG_CODECS))
        if attrs["bitrate"] is not None:
            if FORMATS[fmt][4] is None:
                details["bitrate"] = [f"Not supported for {fmt} (a lossless format)"]
            elif codec == "vorbis":
                details["bitrate"] = ["Not supported for vorbis (the encoder has no bit rate control)"]
        if details:
            raise ValidationError(details)
        return attrs


def run(source: Input, params: dict, progress: Progress) -> Output:
    fmt = params["format"]
    encoder_name = OGG_CODECS[params["codec"] or "opus"] if fmt == "ogg" else None
    path = source.output_path(f"output.{fmt}")
    container = open_media(source.path)
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

    facts = probe_media(path)
    audio = next(s for s in facts["streams"] if s["type"] == "audio")
    return Output(
        {
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
        file=path,
        content_type=FORMATS[fmt][3],
    )


PROCESSOR = Processor(
    type="audio.convert",
    input_kinds={"audio"},
    timeout_class="medium",
    params=AudioConvertParams,
    run=run,
)
