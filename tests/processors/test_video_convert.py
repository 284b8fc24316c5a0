import time

import pytest

from jobs.processors import ProcessingError
from jobs.processors.media import probe_media
from tests import media_factory as mf


@pytest.fixture(scope="module")
def clip(media_dir):
    return mf.make_mp4(media_dir / "clip.mp4", seconds=1.5, width=320, height=240, fps=24)


def test_it_converts_to_mp4_with_h264_and_aac(run, clip):
    result = run("video.convert", clip)
    out = result.output
    assert (out["format"], out["video_codec"], out["audio_codec"]) == ("mp4", "h264", "aac")
    assert (out["width"], out["height"], out["fps"]) == (320, 240, 24.0)
    assert out["duration"] == pytest.approx(1.5, abs=0.1)
    assert result.result.content_type == "video/mp4"
    facts = probe_media(str(result.file))
    assert [s["codec"] for s in facts["streams"]] == ["h264", "aac"]
    # faststart: the index comes before the media data, so playback can start while downloading
    head = result.file.read_bytes()[:4096]
    assert head.find(b"moov") < head.find(b"mdat") or b"mdat" not in head


def test_it_converts_to_webm_with_vp9_and_opus(run, clip):
    result = run("video.convert", clip, {"format": "webm"})
    out = result.output
    assert (out["format"], out["video_codec"], out["audio_codec"]) == ("webm", "vp9", "opus")
    assert result.result.content_type == "video/webm"
    assert probe_media(str(result.file))["format_name"] == "matroska,webm"


def test_max_height_scales_down_keeping_the_aspect_ratio_with_even_dimensions(run, clip):
    out = run("video.convert", clip, {"max_height": 101}).output
    assert (out["width"], out["height"]) == (134, 100)
    # never scaled up
    out = run("video.convert", clip, {"max_height": 1080}).output
    assert (out["width"], out["height"]) == (320, 240)


def test_odd_input_dimensions_become_even(run, tmp_path):
    src = mf.make_avi(tmp_path / "odd.avi", seconds=0.5, width=321, height=179, audio=False)
    out = run("video.convert", src).output
    assert out["width"] % 2 == 0 and out["height"] % 2 == 0
    assert abs(out["width"] - 321) <= 1 and abs(out["height"] - 179) <= 1


def test_a_video_without_audio_stays_without_audio(run, tmp_path):
    src = mf.make_webm(tmp_path / "mute.webm", seconds=0.5, audio=False)
    out = run("video.convert", src).output
    assert out["audio_codec"] is None and out["video_codec"] == "h264"


@pytest.mark.parametrize("name,make", [
    ("clip.webm", mf.make_webm), ("clip.mkv", mf.make_mkv), ("clip.mov", mf.make_mov), ("clip.avi", mf.make_avi),
])
def test_it_reads_every_video_container(run, tmp_path, name, make):
    out = run("video.convert", make(tmp_path / name, seconds=0.5)).output
    assert out["duration"] == pytest.approx(0.5, abs=0.1)
    assert (out["video_codec"], out["audio_codec"]) == ("h264", "aac")


def test_the_rotation_of_a_phone_video_is_kept_and_max_height_applies_to_the_upright_picture(run, tmp_path):
    src = mf.make_mp4(tmp_path / "phone.mp4", seconds=0.3, width=320, height=240, rotation=90, audio=False)
    result = run("video.convert", src, {"max_height": 160})
    assert (result.output["width"], result.output["height"], result.output["rotation"]) == (120, 160, 90)
    thumb = run("video.thumbnail", result.file, {"at_seconds": 0}).output
    assert (thumb["width"], thumb["height"]) == (120, 160)


def test_it_reports_progress_as_it_goes(run, tmp_path, monkeypatch):
    from jobs.processors import base

    monkeypatch.setattr(base, "PROGRESS_INTERVAL", 0)  # report every frame instead of every 0.5 s
    src = mf.make_mp4(tmp_path / "clip.mp4", seconds=1.0, audio=False)
    progress = run("video.convert", src).progress
    assert len(progress) > 20
    assert progress[0] == 0 and progress[-1] == 100 and progress == sorted(progress)


def test_it_refuses_absurd_frame_sizes_before_decoding(run, tmp_path):
    huge = mf.make_huge_frame_video(tmp_path / "huge.mkv", 16000, 16000)
    started = time.monotonic()
    with pytest.raises(ProcessingError) as info:
        run("video.convert", huge)
    assert time.monotonic() - started < 1
    assert info.value.code == "INPUT_TOO_LARGE"


@pytest.mark.parametrize("name,make,damage", [
    ("clip.mp4", mf.make_mp4, "truncated"),
    ("clip.mkv", mf.make_mkv, "truncated"),
    ("clip.webm", mf.make_webm, "corrupt"),
])
def test_damaged_videos_are_corrupt_input(run, tmp_path, name, make, damage):
    src = make(tmp_path / name, seconds=1.0)
    bad = (mf.make_truncated(src, tmp_path / ("bad-" + name), 0.5) if damage == "truncated"
           else mf.make_corrupt(src, tmp_path / ("bad-" + name), keep_header=64))
    with pytest.raises(ProcessingError) as info:
        run("video.convert", bad)
    assert info.value.code == "CORRUPT_INPUT"


def test_audio_is_not_video(run, tmp_path):
    with pytest.raises(ProcessingError) as info:
        run("video.convert", mf.make_wav(tmp_path / "a.wav", 0.2), content_type="video/mp4")
    assert info.value.code == "UNSUPPORTED_INPUT"
