"""Read by gunicorn from the working directory (scripts/run.sh and the tests
start it from the repository root); command-line options still win."""

import os

# AIPROD_LOG_FORMAT=json: gunicorn's error and access logs as JSON lines too.
if os.environ.get("AIPROD_LOG_FORMAT", "").lower() == "json":
    logger_class = "aiprod.gunicorn_logging.JsonLogger"
