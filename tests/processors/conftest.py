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

class Run:
    """Outcome of one processor run: the result plus every progress report."""

    def __init__(self, result, progress):
        self.result = result
        self.output = result.data
        self.file = Path(result.file) if result.file else None
        self.progress = progress


@pytest.fixture
def run(tmp_path):
    """``run(type_name, input_path, params)`` processes a file like the worker would.

    ``content_type`` is the label the input came with (to simulate a
    mislabelled input; the processor sniffs the bytes anyway). Params go
    through ``validate_params``.
    """
    counter = iter(range(1_000_000))

    def _run(type_name, input_path, params=None, *, content_type=None):
        processor = get_processor(type_name)
        cleaned = processor.validate_params(params or {})
        output_dir = tmp_path / f"out-{next(counter)}"
        output_dir.mkdir()
        progress = []
        result = processor.process(str(input_path), params=cleaned, output_dir=str(output_dir),
                                   declared_content_type=content_type or "", report_progress=progress.append)
        if result.file:
            assert Path(result.file).parent == output_dir
        return Run(result, progress)

    return _run


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory):
    """A directory shared by one test module, for media generated once."""
    return tmp_path_factory.mktemp("media")
