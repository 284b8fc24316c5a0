"""Shared helpers for the processor tests: no database, no Django, real media."""

import sys
from pathlib import Path

import pytest

# `tests.media_factory` and `jobs` import from the repository root, however
# pytest was started (pytest-django adds it too, once settings import).
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from jobs.processors import get_processor  # noqa: E402
from jobs.processors.base import ProcessorContext  # noqa: E402
from jobs.sniff import sniff  # noqa: E402

class Run:
    """Outcome of one processor run: the result plus every progress report."""

    def __init__(self, result, progress):
        self.result = result
        self.output = result.output
        self.file = Path(result.output_file) if result.output_file else None
        self.progress = progress


@pytest.fixture
def run(tmp_path):
    """``run(type_name, input_path, params)`` processes a file like the worker would.

    The input is sniffed unless ``kind``/``content_type`` are given (to
    simulate a mislabelled input). Params go through ``validate_params``.
    """
    counter = iter(range(1_000_000))

    def _run(type_name, input_path, params=None, *, kind=None, content_type=None):
        processor = get_processor(type_name)
        cleaned = processor.validate_params(params or {})
        if kind is None:
            sniffed = sniff(input_path, declared_content_type=content_type)
            kind, content_type = sniffed.kind, sniffed.content_type
        output_dir = tmp_path / f"out-{next(counter)}"
        output_dir.mkdir()
        progress = []
        ctx = ProcessorContext(
            input_path=str(input_path),
            input_kind=kind,
            input_content_type=content_type or "",
            params=cleaned,
            output_dir=str(output_dir),
            report_progress=progress.append,
        )
        result = processor.process(ctx)
        if result.output_file:
            assert Path(result.output_file).parent == output_dir
        return Run(result, progress)

    return _run


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory):
    """A directory shared by one test module, for media generated once."""
    return tmp_path_factory.mktemp("media")
