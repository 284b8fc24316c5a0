from pathlib import Path

import pytest

from jobs.processors import ProcessingError
from tests import media_factory as mf

# espeak-ng (klatt voice, 160 wpm): "hello world. <pause> one two three four
# five. <pause> this is just a test." — 5.3 s, 16 kHz mono.
SPEECH = Path(__file__).resolve().parents[1] / "fixtures" / "speech.wav"


@pytest.fixture(scope="module")
def transcript(tmp_path_factory):
    """Transcribe the speech sample once for the whole module (it takes ~2 s)."""
    from jobs.processors import get_processor

    output_dir = tmp_path_factory.mktemp("transcript")
    progress = []
    result = get_processor("audio.transcribe").process(str(SPEECH), params={}, output_dir=str(output_dir),
                                                       declared_content_type="audio/wav",
                                                       report_progress=progress.append)
    return result, progress


def test_it_recognises_the_words_of_the_speech_sample(transcript):
    result, _ = transcript
    words = [w["word"] for w in result.data["words"]]
    # pocketsphinx is not very accurate: assert words it reliably gets right, in order.
    expected = ["hello", "world", "three", "four", "five", "test"]
    assert [w for w in words if w in expected] == expected
    assert result.data["text"] == " ".join(s["text"] for s in result.data["segments"])
    assert result.data["warning"] is None and result.data["language"] == "en-us"


def test_word_timings_are_ordered_and_inside_the_recording(transcript):
    result, _ = transcript
    out = result.data
    assert out["duration"] == pytest.approx(5.26, abs=0.05)
    previous_end = 0.0
    for word in out["words"]:
        assert previous_end - 0.011 <= word["start"] < word["end"] <= out["duration"] + 0.05
        assert 0 <= word["confidence"] <= 1
        previous_end = word["end"]
    hello = next(w for w in out["words"] if w["word"] == "hello")
    assert hello["start"] < 0.5


def test_the_pauses_split_the_speech_into_segments(transcript):
    result, _ = transcript
    segments = result.data["segments"]
    assert len(segments) == 3
    assert segments[0]["text"].startswith("hello world")
    assert "three four five" in segments[1]["text"]
    assert segments[2]["text"].endswith("test")
    assert all(a["end"] <= b["start"] for a, b in zip(segments, segments[1:]))


def test_it_writes_one_segment_per_line_and_reports_progress(transcript):
    result, progress = transcript
    assert result.content_type == "text/plain; charset=utf-8"
    lines = open(result.file, encoding="utf-8").read().splitlines()
    assert lines == [s["text"] for s in result.data["segments"]]
    assert progress[0] == 0 and progress[-1] == 100 and progress == sorted(progress)


def test_a_tone_has_no_speech_and_says_so(run, tmp_path):
    result = run("audio.transcribe", mf.make_wav(tmp_path / "tone.wav", seconds=1.0))
    out = result.output
    assert (out["text"], out["words"], out["segments"]) == ("", [], [])
    assert out["warning"] == "No speech was detected in the audio"


def test_it_transcribes_the_audio_track_of_a_video(run, tmp_path):
    result = run("audio.transcribe", mf.make_mp4(tmp_path / "clip.mp4", seconds=1.0))
    assert result.output["duration"] == pytest.approx(1.0, abs=0.1)
    assert isinstance(result.output["text"], str)


def test_a_video_without_audio_is_unsupported(run, tmp_path):
    with pytest.raises(ProcessingError) as info:
        run("audio.transcribe", mf.make_mp4(tmp_path / "mute.mp4", seconds=0.3, audio=False))
    assert info.value.code == "UNSUPPORTED_INPUT"
    assert "no audio track" in info.value.message


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_audio_is_corrupt_input(run, tmp_path, damage):
    src = mf.make_flac(tmp_path / "tone.flac", seconds=2.0)
    bad = (mf.make_truncated(src, tmp_path / "bad.flac", 0.5) if damage == "truncated"
           else mf.make_corrupt(src, tmp_path / "bad.flac", keep_header=64))
    with pytest.raises(ProcessingError) as info:
        run("audio.transcribe", bad)
    assert info.value.code == "CORRUPT_INPUT"
