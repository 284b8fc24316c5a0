"""How much a job may write (docs/limits.md): an output-size limit per type and tier.

A 306 KB FLAC of silence converts to a 345 MB WAV in 0.4 s (x1,129), so the
input limits alone do not bound the disk a job can fill. The processing child
runs with RLIMIT_FSIZE at the job's limit (jobs/runner.py): the first write
past it kills the child with SIGXFSZ, the job fails `OUTPUT_TOO_LARGE` naming
the limit, and its scratch directory goes with the attempt. The output bytes
of a completed live job count against the monthly data quota like input bytes
(`count_output`).

The table is in docs/limits.md ("Output-size limits"); `AIPROD_JOB_OUTPUT_LIMIT_BYTES`
(0 = off) lowers every limit at once, for small disks and for tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings

from jobs.services.upload import format_size
from quotas.services import consume_data

MiB = 1024**2
GiB = 1024**3

# type -> (free, pro); enterprise has pro's limits. A type without a file
# output (media.probe) still gets a small one: only its result is written.
OUTPUT_LIMITS: dict[str, tuple[int, int]] = {
    "media.probe": (1 * MiB, 1 * MiB),
    "image.transform": (200 * MiB, 500 * MiB),
    "video.thumbnail": (50 * MiB, 100 * MiB),
    "document.extract_text": (100 * MiB, 500 * MiB),
    "audio.transcribe": (50 * MiB, 100 * MiB),
    "audio.convert": (1 * GiB, 4 * GiB),
    "video.convert": (2 * GiB, 8 * GiB),
}
DEFAULT_LIMITS = (100 * MiB, 1 * GiB)  # a type missing from the table

OUTPUT_TOO_LARGE = "OUTPUT_TOO_LARGE"


@dataclass(frozen=True)
class OutputLimit:
    bytes: int
    message: str  # the job's error when a write passes `bytes`


def limit_for(type_name: str, tier: str) -> OutputLimit:
    """The most one file of a `type_name` job of a `tier` account may hold."""
    free, paid = OUTPUT_LIMITS.get(type_name, DEFAULT_LIMITS)
    limit = free if tier == "free" else paid
    cap = settings.AIPROD_JOB_OUTPUT_LIMIT_BYTES
    if cap:
        limit = min(limit, cap)
    return OutputLimit(
        limit,
        f"Output too large: {type_name} may write at most {format_size(limit)} per job on the {tier} plan; "
        "the output grew past it and was discarded",
    )


def count_output(job, output_file: str | None) -> None:
    """Counts the finished output's bytes against the account's monthly data
    quota (live jobs only). Raises quotas.services.QuotaExceeded when they do
    not fit; the caller fails the job and its scratch (the file) is removed."""
    if output_file and os.path.exists(output_file):
        consume_data(job.account, livemode=job.livemode, nbytes=os.path.getsize(output_file))
