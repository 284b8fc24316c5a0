import time

import pytest
from PIL import Image

from jobs.processors import ProcessingError
from tests import media_factory as mf

FPS = 24


@pytest.fixture(scope="module")
def clip(media_dir):
    return mf.make_mp4(media_dir / "clip.mp4", seconds=2.0, width=320, height=240, fps=FPS)


def bar_x(path) -> int:
    """Where the white bar of the test pattern is (frame i has it at x = 8*i..8*i+8)."""
    img = Image.open(path).convert("L")
    row = [img.getpixel((x, img.height // 2)) for x in range(img.width)]
    return max(range(img.width - 8), key=lambda x: sum(row[x:x + 8]))


def test_it_grabs_the_frame_on_screen_at_the_requested_time(run, clip):
    result = run("video.thumbnail", clip, {"at_seconds": 0.5})
    assert result.output["at_seconds"] == pytest.approx(0.5, abs=1 / FPS)
    assert result.output | {"size_bytes": 0} == {
        "width": 320, "height": 240, "format": "jpeg", "at_seconds": result.output["at_seconds"],
        "requested_at_seconds": 0.5, "size_bytes": 0,
    }
    assert Image.open(result.file).format == "JPEG"
    assert abs(bar_x(result.file) - 8 * 12) <= 2  # frame 12 = 0.5 s at 24 fps


def test_the_default_is_one_second_in(run, clip):
    result = run("video.thumbnail", clip)
    assert result.output["at_seconds"] == pytest.approx(1.0, abs=1 / FPS)
    assert abs(bar_x(result.file) - 8 * 24) <= 2


def test_a_time_past_the_end_gives_the_last_frame(run, clip):
    result = run("video.thumbnail", clip, {"at_seconds": 3600})
    assert result.output["at_seconds"] == pytest.approx(2.0 - 1 / FPS, abs=0.01)
    assert abs(bar_x(result.file) - 8 * 47 % (320 - 8)) <= 2


def test_it_writes_png_at_the_requested_width(run, clip):
    result = run("video.thumbnail", clip, {"at_seconds": 0, "format": "png", "width": 160})
    img = Image.open(result.file)
    assert (img.format, img.size) == ("PNG", (160, 120))
    assert (result.output["width"], result.output["height"], result.result.content_type) == (
        160, 120, "image/png")


@pytest.mark.parametrize("name,make", [
    ("clip.webm", mf.make_webm), ("clip.mkv", mf.make_mkv), ("clip.mov", mf.make_mov), ("clip.avi", mf.make_avi),
])
def test_it_works_for_every_video_container(run, tmp_path, name, make):
    src = make(tmp_path / name, seconds=1.0, fps=FPS, audio=False)
    result = run("video.thumbnail", src, {"at_seconds": 0.5})
    assert abs(bar_x(result.file) - 8 * 12) <= 2


def test_a_phone_video_is_turned_upright(run, tmp_path):
    src = mf.make_mp4(tmp_path / "phone.mp4", seconds=0.3, width=320, height=240, rotation=90, audio=False)
    result = run("video.thumbnail", src, {"at_seconds": 0})
    assert Image.open(result.file).size == (240, 320)


def test_it_refuses_absurd_frame_sizes_before_decoding(run, tmp_path):
    huge = mf.make_huge_frame_video(tmp_path / "huge.mkv", 16000, 16000)
    started = time.monotonic()
    with pytest.raises(ProcessingError) as info:
        run("video.thumbnail", huge)
    assert time.monotonic() - started < 1
    assert info.value.code == "INPUT_TOO_LARGE"
    assert "16000x16000" in info.value.message


def test_audio_and_images_are_unsupported(run, tmp_path):
    for src in (mf.make_wav(tmp_path / "a.wav", 0.2), mf.make_png(tmp_path / "p.png")):
        with pytest.raises(ProcessingError) as info:
            run("video.thumbnail", src, content_type="video/mp4")
        assert info.value.code == "UNSUPPORTED_INPUT"


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_videos_are_corrupt_input(run, clip, tmp_path, damage):
    bad = (mf.make_truncated(clip, tmp_path / "bad.mp4", 0.5) if damage == "truncated"
           else mf.make_corrupt(clip, tmp_path / "bad.mp4", keep_header=64))
    with pytest.raises(ProcessingError) as info:
        run("video.thumbnail", bad)
    assert info.value.code == "CORRUPT_INPUT"
