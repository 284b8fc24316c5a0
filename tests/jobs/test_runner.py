"""The forked-child runner on real processors: results, crashes, memory
limit, stop and deadline. No database: the heartbeat is a plain callable."""

from __future__ import annotations

import faulthandler
import os
import signal
import time
from pathlib import Path

import pytest

from jobs import runner
from tests import media_factory as mf


@pytest.fixture(autouse=True, scope="module")
def _preloaded_libraries():
    # As the worker does before forking (jobs.services.execution._preload):
    # else the first child of the process imports PyAV and pocketsphinx itself,
    # and how long that takes depended on whether a worker test ran earlier.
    from jobs.services import execution

    execution._preload()


@pytest.fixture
def long_audio(tmp_path, long_wav) -> str:
    path = tmp_path / "long.wav"
    path.write_bytes(long_wav)
    return str(path)


def task(tmp_path, type_name: str, input_path: str, kind: str, content_type: str, params=None) -> runner.Task:
    from jobs.processors import get_processor

    work = tmp_path / f"work-{time.monotonic_ns()}"
    work.mkdir()
    return runner.Task(type_name=type_name, input_path=input_path, input_kind=kind, input_content_type=content_type,
                       params=get_processor(type_name).validate_params(params or {}), work_dir=str(work))


def forever() -> float:
    return time.monotonic() + 600


def test_a_processor_result_comes_back_with_its_output_file(tmp_path, children):
    png = mf.make_png(tmp_path / "in.png")
    outcome = runner.run(task(tmp_path, "image.transform", png, "image", "image/png", {"format": "webp"}),
                         deadline=forever(), heartbeat=lambda p: True)
    assert outcome.kind == runner.RESULT
    assert outcome.output["format"] == "webp"
    assert Path(outcome.output_file).read_bytes()[8:12] == b"WEBP"
    assert children.new() == []


def test_a_processing_error_comes_back_with_its_code(tmp_path):
    garbage = mf.make_garbage(tmp_path / "in.png")
    outcome = runner.run(task(tmp_path, "media.probe", garbage, "image", "image/png"),
                         deadline=forever(), heartbeat=lambda p: True)
    assert (outcome.kind, outcome.code) == (runner.ERROR, "UNSUPPORTED_INPUT")


def test_progress_reaches_the_heartbeat(tmp_path, long_audio):
    seen = []

    def heartbeat(progress):
        seen.append(progress)
        return progress == 0 and len(seen) < 100  # stop at the first progress, or after 10 s

    runner.run(task(tmp_path, "audio.transcribe", long_audio, "audio", "audio/wav"), deadline=forever(),
               heartbeat=heartbeat, interval=0.1)
    assert max(seen) > 0


def test_a_false_heartbeat_kills_the_child(tmp_path, long_audio, children):
    outcome = runner.run(task(tmp_path, "audio.transcribe", long_audio, "audio", "audio/wav"), deadline=forever(),
                         heartbeat=lambda p: False, interval=0.1)
    assert outcome.kind == runner.STOPPED
    assert children.new() == []


def test_the_deadline_kills_the_child(tmp_path, long_audio, children):
    outcome = runner.run(task(tmp_path, "audio.transcribe", long_audio, "audio", "audio/wav"),
                         deadline=time.monotonic() + 0.5, heartbeat=lambda p: True, interval=0.1)
    assert outcome.kind == runner.TIMEOUT
    assert children.new() == []


@pytest.fixture
def quiet_crashes():
    # pytest's faulthandler would print the crashing child's stack; keep the output clean.
    enabled = faulthandler.is_enabled()
    faulthandler.disable()
    yield
    if enabled:
        faulthandler.enable()


def test_a_child_that_segfaults_fails_corrupt_input(tmp_path, long_audio, quiet_crashes, children):
    def heartbeat(progress):
        for pid in children.new():
            os.kill(pid, signal.SIGSEGV)
        return True

    outcome = runner.run(task(tmp_path, "audio.transcribe", long_audio, "audio", "audio/wav"), deadline=forever(),
                         heartbeat=heartbeat, interval=0.1)
    assert (outcome.kind, outcome.code) == (runner.CRASHED, "CORRUPT_INPUT")
    assert outcome.message == "Invalid input: processing crashed on this file (SIGSEGV)"


def test_a_child_over_its_memory_limit_fails_input_too_large_not_the_worker(tmp_path):
    png = mf.make_png(tmp_path / "big.png", w=4000, h=4000)
    # Below what the forked child already maps: its first large allocation fails.
    limit = 64 * 1024 * 1024
    outcome = runner.run(task(tmp_path, "image.transform", png, "image", "image/png", {"width": 3000}),
                         deadline=forever(), heartbeat=lambda p: True, memory_limit=limit)
    assert (outcome.kind, outcome.code) == (runner.ERROR, "INPUT_TOO_LARGE")
    assert outcome.message.startswith("Input too large")
    # The worker (this process) is untouched and can allocate as before.
    assert len(bytearray(100 * 1024 * 1024)) == 100 * 1024 * 1024


def test_a_write_past_the_file_size_limit_kills_the_child_as_output_too_large(tmp_path, children):
    flac = mf.make_silent_flac(tmp_path / "silence.flac", seconds=30)
    big = task(tmp_path, "audio.convert", flac, "audio", "audio/flac", {"format": "wav"})
    big.max_output_bytes, big.output_too_large = 1024**2, "Output too large: at most 1 MB"
    outcome = runner.run(big, deadline=forever(), heartbeat=lambda p: True)
    assert (outcome.kind, outcome.code, outcome.message) == (runner.CRASHED, "OUTPUT_TOO_LARGE",
                                                              "Output too large: at most 1 MB")
    assert os.path.getsize(os.path.join(big.work_dir, "output", "output.wav")) <= 1024**2
    assert children.new() == []


def test_a_worker_log_file_already_past_the_limit_does_not_kill_the_child(tmp_path, monkeypatch):
    log = tmp_path / "worker.log"
    log.write_bytes(b"x" * (2 * 1024**2))  # a long-running worker's stderr
    broken = task(tmp_path, "media.probe", mf.make_wav(tmp_path / "in.wav"), "audio", "audio/wav")
    broken.type_name = "no.such.type"  # fails inside the child with a traceback on stderr
    broken.max_output_bytes = 1024**2
    saved = os.dup(2)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    os.dup2(fd, 2)
    monkeypatch.setattr("sys.stderr", open(2, "w", buffering=1, closefd=False))  # a worker's: fd 2, by line
    try:
        outcome = runner.run(broken, deadline=forever(), heartbeat=lambda p: True)
    finally:
        os.dup2(saved, 2)
        os.close(fd)
        os.close(saved)
    assert (outcome.kind, outcome.code) == (runner.ERROR, "PROCESSING_FAILED")
    # The child's traceback still reached the worker's stderr (relayed by the parent).
    assert "Traceback" in log.read_bytes()[2 * 1024**2:].decode()
