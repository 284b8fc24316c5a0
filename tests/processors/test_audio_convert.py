import pytest

from jobs.processors.base import ProcessingError
from jobs.processors.probe import probe_media
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
])
def test_it_converts_to_every_output_format(run, wav, fmt, codec, content_type):
    result = run("audio.convert", wav, {"format": fmt})
    out = result.output
    assert (out["format"], out["codec"], out["channels"]) == (fmt, codec, 2)
    assert out["duration"] == pytest.approx(1.0, abs=0.06)
    assert out["sample_rate"] == (48000 if fmt == "ogg" else 44100)  # Opus only runs at 48 kHz and below
    assert out["bit_rate"] > 0 and out["size_bytes"] == result.file.stat().st_size
    assert result.result.output_content_type == content_type
    # The file really is what the output says.
    facts = probe_media(str(result.file))
    assert facts["streams"][0]["codec"] == codec


def test_it_uses_the_requested_bitrate_and_sample_rate(run, wav):
    out = run("audio.convert", wav, {"format": "mp3", "bitrate": 64000, "sample_rate": 22050}).output
    assert (out["bit_rate"], out["sample_rate"]) == (64000, 22050)
    small = run("audio.convert", wav, {"format": "aac", "bitrate": 32000}).result
    large = run("audio.convert", wav, {"format": "aac", "bitrate": 256000}).result
    assert small.output["size_bytes"] < large.output["size_bytes"]


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
