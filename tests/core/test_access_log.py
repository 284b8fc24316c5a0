"""A download link's token never reaches gunicorn's access log (gunicorn.conf.py
loads core.gunicorn_logging.RedactingLogger): a real gunicorn serves a real
job output through its signed link, and the log line has the path only."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from core.gunicorn_logging import redact
from jobs.models import Job
from jobs.services import storage
from tests import media_factory as mf
from tests.conftest import make_persona, requires_postgres
from tests.httpservers import serve
from tests.processes import gunicorn
from tests.resilience.conftest import database_url_under_test

pytestmark = [pytest.mark.e2e, requires_postgres]


@pytest.fixture
def finished_job(transactional_db, tmp_path):
    png = Path(mf.make_png(tmp_path / "pic.png")).read_bytes()
    persona = make_persona("pro")
    with serve({"/pic.png": (200, {"Content-Type": "image/png"}, png)}) as files:
        created = persona.api.post("/jobs", {"name": "for the log", "type": "image.transform",
                                             "params": {"format": "png"}, "input_url": f"{files.url}/pic.png"})
    assert created.status_code == 201, created.content
    job = persona.api.get(f"/jobs/{created.json()['id']}").json()
    assert job["status"] == "completed", job  # the test settings run the queue inline
    yield job
    row = Job.objects.get(pk=job["id"])
    storage.delete_job_files(row.pk, [row.input_file, row.output_file])


def test_a_download_through_gunicorn_leaves_no_token_in_the_access_log(finished_job, tmp_path):
    link = urlsplit(finished_job["output_url"])
    token = link.query.split("token=", 1)[1]
    assert len(token) > 20
    access_log = tmp_path / "access.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url_under_test(),
        "DJANGO_SETTINGS_MODULE": "aiprod.test_settings",
        # The default format (request line, referer) plus the bare query and path atoms.
        "GUNICORN_CMD_ARGS": f"--access-logfile {access_log} --access-logformat "
                             "'%(h)s \"%(r)s\" %(s)s q=%(q)s u=%(U)s \"%(f)s\" e=%({query_string}e)s'",
    }
    with gunicorn(env, tmp_path / "gunicorn.log") as base:
        url = f"{base}{link.path}?{link.query}"
        download = requests.get(url, headers={"Referer": url}, timeout=30)
        assert download.status_code == 200, download.content[:500]
        assert download.content[:8] == b"\x89PNG\r\n\x1a\n"
        other = requests.get(f"{base}/jobs/{finished_job['id']}?token={token}&x=1", timeout=30)
        assert other.status_code == 401
    log = access_log.read_text()
    assert f'"GET {link.path} HTTP/1.1" 200' in log, log
    assert token not in log, log
    assert "token=[redacted]&x=1" in log, log


def test_the_redaction_drops_download_queries_and_masks_other_tokens():
    assert redact("GET /jobs/job_1/output?token=abc.def&x=2 HTTP/1.1") == "GET /jobs/job_1/output HTTP/1.1"
    assert redact("https://api.example/jobs/job_1/output?token=abc") == "https://api.example/jobs/job_1/output"
    assert redact("/jobs/job_1?x=1&token=abc") == "/jobs/job_1?x=1&token=[redacted]"
    assert redact("token=abc&x=1") == "token=[redacted]&x=1"
    assert redact("GET /jobs?limit=5 HTTP/1.1") == "GET /jobs?limit=5 HTTP/1.1"
