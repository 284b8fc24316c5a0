"""Why a job's processing failed, as the customer reads it (the job's
``error_code`` and ``error``), and why its params were refused.

Its own module, importing nothing of ``jobs``: the sniffer, the processors and
the services all raise these, and none of them may import another just for an
exception class (that made ``jobs.sniff`` and ``jobs.processors`` a cycle).
The codes, and what the customer can do about each, are in docs/jobs.md.
"""

from __future__ import annotations

# Error codes a failed job can carry (the job's ``error_code``).
UNSUPPORTED_INPUT = "UNSUPPORTED_INPUT"
CORRUPT_INPUT = "CORRUPT_INPUT"
INPUT_TOO_LARGE = "INPUT_TOO_LARGE"
INVALID_PARAMS = "INVALID_PARAMS"
PROCESSING_FAILED = "PROCESSING_FAILED"


class ProcessingError(Exception):
    """A job failure the customer can act on: ``code`` plus a human ``message``."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class ParamsInvalid(Exception):
    """``params`` failed validation; ``details`` maps a param name to messages."""

    def __init__(self, details: dict[str, list[str]]):
        super().__init__("Validation failed")
        self.details = details
