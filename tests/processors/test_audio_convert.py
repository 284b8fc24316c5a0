import av
import pytest

from jobs.processors import get_processor
from jobs.processors import ParamsInvalid, ProcessingError
from jobs.processors.media import probe_media
from tests import media_factory as mf


@pytest.fixture(scope="module")
def wav(media_dir):
    return mf.make_wav(media_dir / "tone.wav", seconds=1.0, rate=44100, layout="stereo")


@pytest.mark.parametrize("fmt,codec,content_type", [
    ("mp3", "mp3", "audio/mpeg"),
    ("wav", "pcm_s16le", "audio/wav"),
    ("ogg", "opus", "audio/ogg"),
    ("flac", "flac", "audio/flac"),
    ("aac", "aac", "audio/aac"),
    ("m4a", "aac", "audio/mp4"),
])
def test_it_converts_to_every_output_format(run, wav, fmt, codec, content_type):
    result = run("audio.convert", wav, {"format": fmt})
    out = result.output
    assert (out["format"], out["codec"], out["channels"]) == (fmt, codec, 2)
    assert out["duration"] == pytest.approx(1.0, abs=0.06)
    assert out["sample_rate"] == (48000 if fmt == "ogg" else 44100)  # Opus only runs at 48 kHz and below
    assert out["bit_rate"] > 0 and out["size_bytes"] == result.file.stat().st_size
    assert result.result.content_type == content_type
    # The file really is what the output says.
    facts = probe_media(str(result.file))
    assert facts["streams"][0]["codec"] == codec


def test_it_uses_the_requested_bitrate_and_sample_rate(run, wav):
    out = run("audio.convert", wav, {"format": "mp3", "bitrate": 64000, "sample_rate": 22050}).output
    assert (out["bit_rate"], out["sample_rate"]) == (64000, 22050)
    small = run("audio.convert", wav, {"format": "aac", "bitrate": 32000}).result
    large = run("audio.convert", wav, {"format": "aac", "bitrate": 256000}).result
    assert small.data["size_bytes"] < large.data["size_bytes"]


def test_m4a_is_aac_in_an_mp4_container_with_the_index_first(run, wav):
    result = run("audio.convert", wav, {"format": "m4a", "bitrate": 64000, "sample_rate": 22050})
    assert result.file.suffix == ".m4a"
    with av.open(str(result.file)) as m4a:
        audio = m4a.streams.audio[0]
        assert "m4a" in m4a.format.name.split(",")
        assert (audio.codec_context.name, audio.sample_rate, audio.channels) == ("aac", 22050, 2)
        assert m4a.duration / 1_000_000 == pytest.approx(1.0, abs=0.06)
        assert audio.bit_rate == pytest.approx(64000, rel=0.1)
    data = result.file.read_bytes()
    assert data[4:12] == b"ftypM4A "
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: playable while downloading


def test_ogg_is_opus_unless_vorbis_is_asked_for(run, wav):
    assert run("audio.convert", wav, {"format": "ogg"}).output["codec"] == "opus"
    assert run("audio.convert", wav, {"format": "ogg", "codec": "opus"}).output["codec"] == "opus"
    result = run("audio.convert", wav, {"format": "ogg", "codec": "vorbis", "sample_rate": 22050})
    assert (result.output["codec"], result.output["sample_rate"]) == ("vorbis", 22050)
    assert result.result.content_type == "audio/ogg"
    with av.open(str(result.file)) as ogg:
        audio = ogg.streams.audio[0]
        assert ogg.format.name == "ogg"
        # Unlike Opus, Vorbis stores the rate asked for.
        assert (audio.codec_context.name, audio.sample_rate, audio.channels) == ("vorbis", 22050, 2)
        assert ogg.duration / 1_000_000 == pytest.approx(1.0, abs=0.06)
        assert sum(frame.samples for frame in ogg.decode(audio=0)) == pytest.approx(22050, abs=0.06 * 22050)


def test_vorbis_output_is_stereo_even_from_mono(run, tmp_path):
    # FFmpeg's Vorbis encoder takes two channels only.
    mono = mf.make_wav(tmp_path / "mono.wav", seconds=0.5, layout="mono")
    out = run("audio.convert", mono, {"format": "ogg", "codec": "vorbis"}).output
    assert (out["codec"], out["channels"]) == ("vorbis", 2)


def invalid(params):
    with pytest.raises(ParamsInvalid) as info:
        get_processor("audio.convert").validate_params(params)
    return info.value.details


def test_a_codec_is_only_for_ogg_and_bitrate_not_for_vorbis():
    assert invalid({"format": "mp3", "codec": "vorbis"}) == {
        "codec": ["Not supported for mp3 (only ogg has a choice of codec)"]
    }
    assert invalid({"format": "ogg", "codec": "aac"}) == {"codec": ["Must be one of: opus, vorbis"]}
    assert invalid({"format": "ogg", "codec": "vorbis", "bitrate": 96000}) == {
        "bitrate": ["Not supported for vorbis (the encoder has no bit rate control)"]
    }
    assert get_processor("audio.convert").validate_params({"format": "ogg"})["codec"] == "opus"


def test_a_sample_rate_the_codec_cannot_store_becomes_the_nearest_one_it_can(run, wav):
    assert run("audio.convert", wav, {"format": "mp3", "sample_rate": 44000}).output["sample_rate"] == 44100
    assert run("audio.convert", wav, {"format": "aac", "sample_rate": 9000}).output["sample_rate"] == 8000
    assert run("audio.convert", wav, {"format": "wav", "sample_rate": 11111}).output["sample_rate"] == 11111
    # Ogg Opus always decodes at 48 kHz; a lower rate only narrows the encoded band.
    assert run("audio.convert", wav, {"format": "ogg", "sample_rate": 16000}).output["sample_rate"] == 48000


@pytest.mark.parametrize("name,make", [
    ("in.mp3", mf.make_mp3), ("in.ogg", mf.make_ogg), ("in.flac", mf.make_flac), ("in.aac", mf.make_aac),
    ("in.wav", mf.make_wav),
])
def test_it_reads_every_audio_input_format(run, tmp_path, name, make):
    out = run("audio.convert", make(tmp_path / name, seconds=1.0), {"format": "wav"}).output
    assert out["duration"] == pytest.approx(1.0, abs=0.06)
    assert out["channels"] == 1


def test_video_is_not_accepted_as_audio(run, tmp_path):
    with pytest.raises(ProcessingError) as info:
        run("audio.convert", mf.make_mp4(tmp_path / "clip.mp4", seconds=0.3), {"format": "mp3"})
    assert info.value.code == "UNSUPPORTED_INPUT"


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_audio_is_corrupt_input(run, tmp_path, damage):
    # (A WAV cut short is still a valid, shorter WAV; FLAC records its length.)
    flac = mf.make_flac(tmp_path / "tone.flac", seconds=2.0)
    bad = (mf.make_truncated(flac, tmp_path / "bad.flac", 0.5) if damage == "truncated"
           else mf.make_corrupt(flac, tmp_path / "bad.flac", keep_header=64))
    with pytest.raises(ProcessingError) as info:
        run("audio.convert", bad, {"format": "mp3"})
    assert info.value.code == "CORRUPT_INPUT"


def test_it_reports_progress_up_to_100(run, wav):
    progress = run("audio.convert", wav, {"format": "flac"}).progress
    assert progress[0] == 0 and progress[-1] == 100 and progress == sorted(progress)
