"""AIPROD_LOG_FORMAT: readable text by default, one JSON object per line with
``json`` (real processes in tests/core/test_observability_e2e.py)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from types import SimpleNamespace

from django.conf import settings

from core.gunicorn_logging import redact_query
from core.logcontext import JsonFormatter, log_context

SNIPPET = "import django, logging; django.setup(); logging.getLogger('aiprod.test').warning('disk %s full', 'var')"


def run_python(**env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("AIPROD_LOG_FORMAT", "AIPROD_LOG_LEVEL")}
    environ.update(DJANGO_SETTINGS_MODULE="aiprod.settings", **env)
    return subprocess.run([sys.executable, "-c", SNIPPET], cwd=settings.BASE_DIR, env=environ, capture_output=True,
                          text=True, timeout=60)


def json_logger() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("aiprod.test.json")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_the_default_format_is_readable_text():
    result = run_python()
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "disk var full"


def test_json_format_writes_one_object_per_line():
    result = run_python(AIPROD_LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "disk var full" and line["level"] == "warning" and line["logger"] == "aiprod.test"
    assert line["time"].endswith("Z")


def test_djangos_own_lines_are_json_too_even_in_debug():
    snippet = "import django, logging; django.setup(); logging.getLogger('django.request').warning('Unauthorized: /x')"
    environ = {k: v for k, v in os.environ.items() if k != "AIPROD_LOG_LEVEL"}
    environ.update(DJANGO_SETTINGS_MODULE="aiprod.settings", AIPROD_LOG_FORMAT="json", DJANGO_DEBUG="1")
    result = subprocess.run([sys.executable, "-c", snippet], cwd=settings.BASE_DIR, env=environ, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert json.loads(lines[0])["logger"] == "django.request"


def test_an_unknown_format_refuses_to_start():
    result = run_python(AIPROD_LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "AIPROD_LOG_FORMAT: 'xml' is not one of: text, json" in result.stderr


def test_lines_carry_the_bound_request_ids_read_when_written():
    logger, stream = json_logger()
    request = SimpleNamespace(request_id="req_abc")
    with log_context(request=request):
        logger.info("before authentication")
        request.aiprod_account_id = "acct_1"  # authentication runs after the middleware bound the request
        with log_context(job_id="job_9"):
            logger.info("done", extra={"event": "job.completed", "duration_ms": 42, "fields": {"type": "media.probe"}})
    logger.info("outside")
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["request_id"] == "req_abc" and "account_id" not in first
    assert second == {**second, "request_id": "req_abc", "account_id": "acct_1", "job_id": "job_9",
                      "event": "job.completed", "duration_ms": 42, "type": "media.probe"}
    assert "request_id" not in third and "job_id" not in third


def test_an_exception_is_one_line_with_its_traceback():
    logger, stream = json_logger()
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert "ValueError: boom" in json.loads(lines[0])["exc_info"]


def test_access_log_queries_lose_their_secrets():
    assert redact_query("/jobs", "token=abc.def&limit=2") == "token=[redacted]&limit=2"
    assert redact_query("/events", "type=job.failed&api_key=sk_live_x") == "type=job.failed&api_key=[redacted]"


def test_a_json_access_line_drops_a_download_urls_whole_query():
    assert redact_query("/jobs/job_abc/output", "token=abc.def&download=1") == ""
