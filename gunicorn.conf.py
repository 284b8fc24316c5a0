"""gunicorn settings read by every gunicorn started in this directory
(`make run`, the tests, the benchmarks, and production's documented command).
Command-line options still apply on top."""

import sys
from pathlib import Path

# The settings' typed reader (a bad value names the variable), found from any working directory.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from aiprod.env import env  # noqa: E402

# Access and error logs without download tokens (core/gunicorn_logging.py);
# AIPROD_LOG_FORMAT=json: gunicorn's error and access logs as JSON lines too.
if env.choice("AIPROD_LOG_FORMAT", ("text", "json"), default="text") == "json":
    logger_class = "core.gunicorn_logging.JsonLogger"
else:
    logger_class = "core.gunicorn_logging.RedactingLogger"

# Threads for production too (gthread, implied by threads > 1): a request
# waiting on a customer's server (input-URL preflight, webhook verify/test;
# capped per account) holds one thread, not a whole worker process.
# `--threads` on the command line (scripts/run.sh, the tests) still wins.
threads = env.int("GUNICORN_THREADS", 8)
