"""Damaged, mislabelled and oversized inputs fail cleanly in every processor.

"Cleanly" means: a ProcessingError with an actionable code, never another
exception (which would be a bug report, not a customer error), never a hang.
"""

import os
import resource
import time

import pytest

from jobs.processors import REGISTRY, get_processor
from jobs.processors import ProcessingError
from jobs.sniff import sniff
from tests import media_factory as mf

SOURCES = {
    "pic.png": lambda p: mf.make_png(p, 120, 90),
    "pic.jpg": lambda p: mf.make_jpeg(p, 120, 90),
    "anim.gif": lambda p: mf.make_animated_gif(p, 60, 40, frames=4),
    "pic.webp": lambda p: mf.make_webp(p, 120, 90),
    "tone.wav": lambda p: mf.make_wav(p, 1.0),
    "tone.mp3": lambda p: mf.make_mp3(p, 1.0),
    "tone.ogg": lambda p: mf.make_ogg(p, 1.0),
    "tone.flac": lambda p: mf.make_flac(p, 1.0),
    "tone.aac": lambda p: mf.make_aac(p, 1.0),
    "clip.mp4": lambda p: mf.make_mp4(p, 1.0, 160, 120),
    "clip.mkv": lambda p: mf.make_mkv(p, 1.0, 160, 120),
    "clip.webm": lambda p: mf.make_webm(p, 1.0, 160, 120),
    "clip.avi": lambda p: mf.make_avi(p, 1.0, 160, 120),
    "clip.mov": lambda p: mf.make_mov(p, 1.0, 160, 120),
    "doc.pdf": lambda p: mf.make_pdf(p, ["First page text", "Second page text"]),
    "doc.docx": lambda p: mf.make_docx(p, table=[["a", "b"]]),
    "data.json": lambda p: mf.make_json(p),
}
DAMAGES = {
    "cut-10pct": lambda src, dest: mf.make_truncated(src, dest, 0.1),
    "cut-60pct": lambda src, dest: mf.make_truncated(src, dest, 0.6),
    "garbled": lambda src, dest: mf.make_corrupt(src, dest, keep_header=32),
}
CUSTOMER_CODES = {"CORRUPT_INPUT", "UNSUPPORTED_INPUT", "INPUT_TOO_LARGE"}
PARAMS = {"audio.convert": {"format": "wav"}}


@pytest.fixture(scope="module")
def sources(media_dir):
    return {name: make(media_dir / name) for name, make in SOURCES.items()}


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("source", SOURCES)
def test_damaged_inputs_never_escape_as_anything_but_a_processing_error(sources, tmp_path, source, damage):
    bad = DAMAGES[damage](sources[source], tmp_path / source)
    try:
        sniffed = sniff(bad, filename=source)
    except ProcessingError as exc:
        assert exc.code == "UNSUPPORTED_INPUT"
        return
    outcomes = {}
    for type_name, processor in REGISTRY.items():
        if sniffed.kind not in processor.input_kinds:
            continue
        output_dir = tmp_path / type_name
        output_dir.mkdir()
        params = processor.validate_params(PARAMS.get(type_name, {}))
        started = time.monotonic()
        try:
            processor.process(str(bad), params=params, output_dir=str(output_dir),
                              declared_content_type=sniffed.content_type)
            outcomes[type_name] = "ok"
        except ProcessingError as exc:
            assert exc.code in CUSTOMER_CODES, f"{type_name}: {exc.code} {exc.message}"
            assert exc.message
            outcomes[type_name] = exc.code
        assert time.monotonic() - started < 10, f"{type_name} took too long on {source} ({damage})"
    assert outcomes


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_every_processor_refuses_a_kind_it_does_not_take_whatever_the_label_says(tmp_path, type_name):
    processor = get_processor(type_name)
    candidates = {
        "document": lambda: mf.make_pdf(tmp_path / "x.pdf"),
        "image": lambda: mf.make_png(tmp_path / "x.png"),
        "audio": lambda: mf.make_wav(tmp_path / "x.wav", 0.2),
    }
    wrong_kind = next(kind for kind in ("document", "image", "audio") if kind not in processor.input_kinds)
    path = candidates[wrong_kind]()
    params = processor.validate_params(PARAMS.get(type_name, {}))
    with pytest.raises(ProcessingError) as info:
        processor.process(path, params=params, output_dir=str(tmp_path), declared_content_type="application/octet-stream")
    assert info.value.code == "UNSUPPORTED_INPUT"
    assert info.value.message.startswith("Unsupported Content-Type")


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_running_out_of_memory_under_the_worker_rlimit_is_input_too_large(tmp_path):
    """Like the worker: a forked child with RLIMIT_AS. A 9000x9000 PNG is under
    the pixel limit but needs 243 MB decoded; the child gets 40 MB of headroom
    (plus whatever free heap the test process already holds)."""
    import PIL.Image  # noqa: F401 - loaded before the limit, as in the worker

    png = mf.make_large_png(tmp_path / "large.png", 9000, 9000)
    processor = get_processor("image.transform")
    params = processor.validate_params({"width": 100})
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        try:
            limit = _vm_size() + 40 * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            try:
                processor.process(png, params=params, output_dir=str(tmp_path), declared_content_type="image/png")
                outcome = "ok"
            except ProcessingError as exc:
                outcome = exc.code
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                outcome = f"crash {type(exc).__name__}"
            os.write(write_fd, outcome.encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    outcome = os.read(read_fd, 200).decode()
    os.close(read_fd)
    os.waitpid(pid, 0)
    assert outcome == "INPUT_TOO_LARGE"
