"""What a processor is, and the scaffolding every processor shares.

A processor declares itself once, at the end of its module::

    PROCESSOR = Processor(
        type="image.transform",
        input_kinds={"image"},
        timeout_class="short",
        params=ImageTransformParams,   # a ParamsSerializer (jobs/processors/params.py)
        run=run,                       # run(input, params, progress) -> Output
    )

``Processor.process`` does the rest, the same way for every type: re-sniff the
input bytes and refuse kinds the type does not take, fill in the params'
defaults, report progress 0 and 100, and hand ``run`` an ``Input``.

Processors are pure functions of their input file and params: no database,
no network, no Django. They run inside a forked child with a memory rlimit,
so they turn bad input (corrupt, truncated, mislabelled, bombs) into a
``ProcessingError`` with a code the customer can act on. Heavy libraries
(PyAV, Pillow, pypdf, python-docx, pocketsphinx) are imported inside the
functions that need them: the API process imports the registry to validate
params without paying for them. No processor imports another; what several
share lives here, in ``media`` (reading media with PyAV) or in
``audio_encoder``.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from jobs.processing_errors import (
    INPUT_TOO_LARGE,
    PROCESSING_FAILED,
    UNSUPPORTED_INPUT,
    ProcessingError,
)
from jobs.processors.params import ParamsSerializer, clean_params

# The timeout classes and their default timeouts in seconds (a job's
# `timeout` when the client sends none).
DEFAULT_TIMEOUTS = {"short": 300, "medium": 1800, "long": 3600}


@dataclass(frozen=True)
class Input:
    """The job's input, as the bytes say it is, and where the output goes."""

    path: str  # local file with the input bytes
    kind: str  # "video"|"audio"|"image"|"document", sniffed from the bytes
    content_type: str  # e.g. "video/mp4", sniffed from the bytes
    extension: str  # the sniffer's name for the format: mp4, jpg, pdf...
    output_dir: str  # an existing empty directory to write the output file into

    def output_path(self, filename: str) -> str:
        return os.path.join(self.output_dir, filename)


@dataclass
class Output:
    data: dict  # JSON-serialisable facts (the job's "output")
    file: str | None = None  # path of the produced file inside the output directory
    content_type: str | None = None  # the produced file's media type


# --------------------------------------------------------------------------
# Progress: throttled, monotonic, and the job's heartbeat.
# --------------------------------------------------------------------------

# Seconds between two reports: frequent enough for a heartbeat, rare enough
# not to flood the worker's pipe.
PROGRESS_INTERVAL = 0.5


class Progress:
    """Forward progress to ``report`` at most every ``interval`` seconds.

    Call it as often as convenient (every frame, every chunk); the values
    passed on never go backwards and stay within 0..100. It is also the job's
    heartbeat: a processor calls it at least every ~1 s of work.
    """

    def __init__(self, report: Callable[[float], None], interval: float | None = None):
        self._report = report
        self._interval = PROGRESS_INTERVAL if interval is None else interval
        self._last_at = -math.inf
        self._last_pct = 0.0

    def __call__(self, pct: float, force: bool = False) -> None:
        pct = max(self._last_pct, min(100.0, max(0.0, float(pct))))
        now = time.monotonic()
        if force or now - self._last_at >= self._interval:
            self._last_at = now
            self._last_pct = pct
            self._report(round(pct, 1))

    def done(self) -> None:
        self(100.0, force=True)


# --------------------------------------------------------------------------
# The declaration and the shared run.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Processor:
    type: str  # the job type's name, e.g. "video.convert"
    input_kinds: frozenset[str]
    timeout_class: str  # a key of DEFAULT_TIMEOUTS
    params: type[ParamsSerializer]
    run: Callable[[Input, dict, Progress], Output]
    _defaults: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "input_kinds", frozenset(self.input_kinds))
        if self.timeout_class not in DEFAULT_TIMEOUTS:
            raise ValueError(f"{self.type}: unknown timeout class {self.timeout_class!r}")
        object.__setattr__(self, "_defaults", self.params.defaults())

    @property
    def default_timeout(self) -> int:
        return DEFAULT_TIMEOUTS[self.timeout_class]

    def validate_params(self, params) -> dict:
        """The cleaned params; ``ParamsInvalid`` (details per param) when refused."""
        return clean_params(self.params, params)

    def process(self, input_path: str, *, params: dict, output_dir: str, declared_content_type: str = "",
                report_progress: Callable[[float], None] = lambda pct: None) -> Output:
        """Run on ``input_path`` with already validated ``params``."""
        from jobs.sniff import sniff

        # The caller sniffed the input already, but a processor must not trust
        # a label: a PNG handed to a video processor would otherwise "work"
        # because FFmpeg reads images too.
        sniffed = sniff(input_path, declared_content_type=declared_content_type)
        if sniffed.kind not in self.input_kinds:
            names = sorted(self.input_kinds)
            expected = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
            raise ProcessingError(
                UNSUPPORTED_INPUT,
                f"Unsupported Content-Type: {self.type} needs {expected} input, got {sniffed.content_type}",
            )
        source = Input(path=input_path, kind=sniffed.kind, content_type=sniffed.content_type,
                       extension=sniffed.extension, output_dir=output_dir)
        progress = Progress(report_progress)
        progress(0, force=True)
        # Params stored before a param was added lack it: the default applies.
        output = self.run(source, {**self._defaults, **params}, progress)
        progress.done()
        return output


# --------------------------------------------------------------------------
# Failures that escape a processor's own checks.
# --------------------------------------------------------------------------


def av_reason(exc: BaseException) -> str:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(reason).rstrip(".")


def out_of_memory(what: str) -> ProcessingError:
    return ProcessingError(INPUT_TOO_LARGE, f"Input too large: processing {what} needs more memory than allowed")


@contextlib.contextmanager
def guard(what: str = "the input") -> Iterator[None]:
    """Classify failures that escape a processor's own checks.

    Running out of memory (the worker's rlimit; also ENOMEM inside FFmpeg)
    becomes INPUT_TOO_LARGE. FFmpeg errors not already classified as a bad
    input (those come from ``media.open_media``/``media.decode_frames``)
    happened while encoding or writing: PROCESSING_FAILED.
    """
    try:
        yield
    except ProcessingError:
        raise
    except MemoryError:
        raise out_of_memory(what) from None
    except Exception as exc:
        av_error = sys.modules.get("av.error")
        if av_error is not None and isinstance(exc, av_error.FFmpegError):
            raise ProcessingError(PROCESSING_FAILED, f"Processing failed: {av_reason(exc)}") from None
        raise
