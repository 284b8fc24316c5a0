"""gunicorn.conf.py, read by every gunicorn started in the repository root
(production's documented command included): threads by default, so a request
waiting on a customer's server holds a thread, not a whole worker process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def printed_config(*args: str, **env: str) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--print-config", *args, "aiprod.wsgi:application"],
        cwd=ROOT, env={**{k: v for k, v in os.environ.items() if k != "GUNICORN_THREADS"}, **env}, capture_output=True, text=True, timeout=60, check=True,
    )
    settings = {}
    for line in result.stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            settings[name.strip()] = value.strip()
    return settings


def test_gunicorn_serves_with_eight_threads_and_the_redacting_logger_by_default():
    config = printed_config()
    assert config["threads"] == "8"  # gunicorn picks the gthread worker when threads > 1
    assert config["logger_class"] == "core.gunicorn_logging.RedactingLogger"


def test_gunicorn_threads_follow_the_environment_and_the_command_line_still_wins():
    assert printed_config(GUNICORN_THREADS="3")["threads"] == "3"
    assert printed_config("--threads", "5", GUNICORN_THREADS="3")["threads"] == "5"
