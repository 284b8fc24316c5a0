"""gunicorn settings read by every gunicorn started in this directory
(`make run`, the tests, the benchmarks, and production's documented command).
Command-line options still apply on top."""

# Access and error logs without download tokens (aiprod/gunicorn_logging.py).
logger_class = "aiprod.gunicorn_logging.RedactingLogger"
