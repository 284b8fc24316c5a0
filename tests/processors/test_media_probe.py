import time

import pytest

from jobs.processors import ProcessingError
from tests import media_factory as mf


def test_it_describes_an_mp4_container_and_both_streams(run, tmp_path):
    clip = mf.make_mp4(tmp_path / "clip.mp4", seconds=1.0, width=320, height=240, fps=24)
    out = run("media.probe", clip).output
    assert out["format"] == "mp4"
    assert out["duration"] == pytest.approx(1.0, abs=0.1)
    assert out["bit_rate"] > 0
    assert out["size_bytes"] == (tmp_path / "clip.mp4").stat().st_size
    video, audio = out["streams"]
    assert video | {"bit_rate": None, "duration": None, "language": None} == {
        "index": 0, "type": "video", "codec": "h264", "width": 320, "height": 240, "fps": 24.0,
        "sample_rate": None, "channels": None, "bit_rate": None, "duration": None, "language": None,
    }
    assert (audio["type"], audio["codec"], audio["sample_rate"], audio["channels"]) == ("audio", "aac", 44100, 2)
    assert audio["width"] is None and audio["fps"] is None


@pytest.mark.parametrize("name,make,fmt,codecs", [
    ("clip.webm", mf.make_webm, "webm", ["vp8", "opus"]),
    ("clip.mkv", mf.make_mkv, "mkv", ["h264", "opus"]),
    ("clip.mov", mf.make_mov, "mov", ["h264", "aac"]),
    ("clip.avi", mf.make_avi, "avi", ["mpeg4", "mp3"]),
    ("tone.mp3", mf.make_mp3, "mp3", ["mp3"]),
    ("tone.wav", mf.make_wav, "wav", ["pcm_s16le"]),
    ("tone.ogg", mf.make_ogg, "ogg", ["opus"]),
    ("tone.flac", mf.make_flac, "flac", ["flac"]),
    ("tone.aac", mf.make_aac, "aac", ["aac"]),
])
def test_it_probes_every_video_and_audio_format(run, tmp_path, name, make, fmt, codecs):
    out = run("media.probe", make(tmp_path / name)).output
    assert out["format"] == fmt
    assert [s["codec"] for s in out["streams"]] == codecs
    assert out["duration"] == pytest.approx(1.0, abs=0.1)
    for stream in out["streams"]:
        if stream["type"] == "audio":
            assert stream["sample_rate"] in (44100, 48000) and stream["channels"] in (1, 2)
        else:
            assert (stream["width"], stream["height"]) == (320, 240)


@pytest.mark.parametrize("name,make,fmt", [
    ("pic.png", mf.make_png, "png"),
    ("pic.jpg", mf.make_jpeg, "jpeg"),
    ("pic.webp", mf.make_webp, "webp"),
    ("pic.gif", mf.make_gif, "gif"),
])
def test_it_probes_every_image_format(run, tmp_path, name, make, fmt):
    out = run("media.probe", make(tmp_path / name, 64, 48)).output
    assert out["format"] == fmt
    assert out["frames"] == 1 and out["duration"] is None
    [stream] = out["streams"]
    assert (stream["type"], stream["width"], stream["height"]) == ("video", 64, 48)


def test_it_reports_frames_and_duration_of_an_animated_gif(run, tmp_path):
    out = run("media.probe", mf.make_animated_gif(tmp_path / "a.gif", frames=5)).output
    assert out["frames"] == 5
    assert out["duration"] == pytest.approx(0.5)
    assert out["streams"][0]["fps"] == pytest.approx(10.0)


def test_it_reports_absurd_video_frame_sizes_without_decoding_them(run, tmp_path):
    huge = mf.make_huge_frame_video(tmp_path / "huge.mkv", 16000, 16000)
    started = time.monotonic()
    out = run("media.probe", huge).output
    assert time.monotonic() - started < 2
    assert (out["streams"][0]["width"], out["streams"][0]["height"]) == (16000, 16000)


def test_it_refuses_a_png_decompression_bomb(run, tmp_path):
    with pytest.raises(ProcessingError) as info:
        run("media.probe", mf.make_png_bomb(tmp_path / "bomb.png"))
    assert info.value.code == "INPUT_TOO_LARGE"


def test_it_refuses_documents(run, tmp_path):
    with pytest.raises(ProcessingError) as info:
        run("media.probe", mf.make_pdf(tmp_path / "doc.pdf"))
    assert info.value.code == "UNSUPPORTED_INPUT"


def test_a_pdf_labelled_as_video_is_still_refused(run, tmp_path):
    with pytest.raises(ProcessingError) as info:
        run("media.probe", mf.make_pdf(tmp_path / "clip.mp4"), content_type="video/mp4")
    assert info.value.code == "UNSUPPORTED_INPUT"


def test_a_truncated_mp4_is_corrupt_input(run, tmp_path):
    clip = mf.make_mp4(tmp_path / "clip.mp4")
    with pytest.raises(ProcessingError) as info:
        run("media.probe", mf.make_truncated(clip, tmp_path / "cut.mp4", 0.5))
    assert info.value.code == "CORRUPT_INPUT"
    assert info.value.message.startswith("Invalid input:")


# An ID3 tag (so the bytes sniff as MP3) followed by a session description:
# FFmpeg's auto-detection picks its SDP demuxer for this, which opens RTP
# streams over the network.
SDP_AS_MP3 = (
    b"ID3\x03\x00\x00\x00\x00\x00\x00"
    b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 45999 RTP/AVP 0\r\n"
)


@pytest.mark.parametrize("type_name,params", [("media.probe", None), ("audio.convert", {"format": "wav"})])
def test_an_mp3_holding_a_session_description_is_read_as_mp3_not_by_the_sdp_demuxer(run, tmp_path, type_name, params):
    fake = tmp_path / "tone.mp3"
    fake.write_bytes(SDP_AS_MP3)
    with pytest.raises(ProcessingError) as info:
        run(type_name, fake, params)
    assert info.value.code == "CORRUPT_INPUT"
    assert "could not be read as media" in info.value.message


@pytest.mark.parametrize("name,make", [
    ("clip.mp4", mf.make_mp4), ("clip.webm", mf.make_webm), ("clip.avi", mf.make_avi),
    ("tone.mp3", mf.make_mp3), ("tone.wav", mf.make_wav), ("tone.ogg", mf.make_ogg), ("tone.flac", mf.make_flac),
    ("tone.aac", mf.make_aac),
])
def test_media_is_opened_with_the_demuxer_of_the_sniffed_format_and_the_file_protocol_only(tmp_path, name, make):
    from jobs.processors.media import AV_DEMUXERS, open_media
    from jobs.sniff import sniff

    path = make(tmp_path / name)
    with open_media(path) as container:
        assert container.format.name == AV_DEMUXERS[sniff(path).content_type]
        assert container.options["protocol_whitelist"] == "file"
