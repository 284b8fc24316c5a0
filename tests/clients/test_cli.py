"""The `aiprod` command against the real server: output (human and --json)
and the exit codes scripts rely on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiprod_client.cli import main
from click.testing import CliRunner
from django_q.conf import Conf
from PIL import Image

from jobs.models import Job
from tests.httpservers import closed_port

AIPROD = str(Path(sys.executable).parent / "aiprod")


@pytest.fixture
def aiprod(live_server):
    """aiprod(persona_or_key, *args) -> click Result (stdout and stderr apart)."""

    def run(who, *args: str, base_url: str | None = None):
        key = who if isinstance(who, str) else who.key
        env = {"AIPROD_API_KEY": key, "AIPROD_BASE_URL": base_url or live_server.url}
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return run


def test_create_wait_and_download(free, aiprod, files, tmp_path):
    result = aiprod(free, "jobs", "create", "--url", files.url + "/pic.png", "--type", "image.transform",
                    "--param", "width=16", "--param", "format=png", "--wait", "--json")
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["status"] == "completed" and "completed" in result.stderr
    result = aiprod(free, "jobs", "download", job["id"], "-o", str(tmp_path / "small.png"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"Saved {tmp_path / 'small.png'} (")
    with Image.open(tmp_path / "small.png") as image:
        assert image.width == 16


def test_upload_shows_progress_and_waits(free, aiprod, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"Notes to read.\n" * 50_000)
    result = aiprod(free, "upload", str(path), "--type", "document.extract_text", "--wait")
    assert result.exit_code == 0, result.stderr
    assert "Uploading" in result.stderr and "completed" in result.stderr
    assert "status" in result.stdout and "completed" in result.stdout


def test_list_get_and_timeline_print_json(free, aiprod, files):
    made = [json.loads(aiprod(free, "jobs", "create", "--url", files.url + "/notes.txt", "--json").stdout)["id"]
            for _ in range(3)]
    listed = json.loads(aiprod(free, "jobs", "list", "--limit", "2", "--json").stdout)
    assert [job["id"] for job in listed] == made[::-1][:2]
    human = aiprod(free, "jobs", "list").stdout.splitlines()
    assert [line.split()[0] for line in human] == made[::-1]
    assert json.loads(aiprod(free, "jobs", "get", made[0], "--json").stdout)["id"] == made[0]
    result = aiprod(free, "jobs", "timeline", made[0], "--json")
    assert result.exit_code == 0 and made[0] in result.stdout


def test_cancel_retry_and_a_wait_that_times_out(free, aiprod, files, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)  # jobs stay pending: no cluster runs them
    job = json.loads(aiprod(free, "jobs", "create", "--url", files.url + "/notes.txt", "--json").stdout)
    result = aiprod(free, "jobs", "wait", job["id"], "--timeout", "0.5", "--json")
    assert result.exit_code == 9 and json.loads(result.stdout)["job"]["status"] == "pending"
    assert json.loads(aiprod(free, "jobs", "cancel", job["id"], "--json").stdout)["status"] == "cancelled"
    result = aiprod(free, "jobs", "wait", job["id"])
    assert result.exit_code == 8  # ended cancelled
    result = aiprod(free, "jobs", "cancel", job["id"], "--json")
    assert result.exit_code == 5 and json.loads(result.stdout)["code"] == "INVALID_STATE"
    assert json.loads(aiprod(free, "jobs", "retry", job["id"], "--json").stdout)["status"] == "pending"
    assert aiprod(free, "jobs", "delete", job["id"]).exit_code == 0


def test_wait_shows_the_jobs_progress_as_plain_lines_off_a_terminal(free, aiprod, files, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)  # the job stays pending: no cluster runs it
    job = json.loads(aiprod(free, "jobs", "create", "--url", files.url + "/notes.txt", "--json").stdout)
    Job.objects.filter(pk=job["id"]).update(progress=40)
    result = aiprod(free, "jobs", "wait", job["id"], "--timeout", "0.5")
    assert result.exit_code == 9
    assert f"{job['id']}: pending 40% (" in result.stderr
    monkeypatch.undo()  # the next job runs (sync mode)
    done = aiprod(free, "jobs", "create", "--url", files.url + "/notes.txt", "--wait", "--json")
    assert done.exit_code == 0 and ": completed 100% (" in done.stderr


def test_wait_draws_a_progress_bar_on_a_terminal(free, files, live_server, monkeypatch):
    monkeypatch.setattr(Conf, "SYNC", False)
    job = Job.objects.get(pk=CliRunner().invoke(
        main, ["jobs", "create", "--url", files.url + "/notes.txt", "--json"],
        env={"AIPROD_API_KEY": free.key, "AIPROD_BASE_URL": live_server.url}).stdout.split('"id": "')[1].split('"')[0])
    Job.objects.filter(pk=job.pk).update(progress=40)
    master, slave = os.openpty()
    try:
        result = subprocess.run([AIPROD, "--base-url", live_server.url, "--api-key", free.key,
                                 "jobs", "wait", job.pk, "--timeout", "1"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, timeout=60)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    assert result.returncode == 9
    text = seen.decode(errors="replace")
    assert f"{job.pk} pending" in text and "40%" in text and "#" in text  # click's bar, not a status line
    assert f"{job.pk}: pending" not in text


def test_a_job_that_fails_exits_8(free, aiprod, files):
    files.routes["/fake.png"] = (200, {"Content-Type": "image/png"}, b"this is not a png at all")
    result = aiprod(free, "jobs", "create", "--url", files.url + "/fake.png", "--type", "image.transform", "--wait",
                    "--json")
    assert result.exit_code == 8, result.stderr
    assert json.loads(result.stdout)["status"] == "failed"


def test_errors_exit_with_their_code_and_print_the_error_as_json(free, aiprod, files):
    result = aiprod(free, "jobs", "get", "job_nothere", "--json")
    assert result.exit_code == 4
    error = json.loads(result.stdout)
    assert error["code"] == "NOT_FOUND" and error["request_id"].startswith("req_")
    assert "Error: 404 NOT_FOUND" in result.stderr

    result = aiprod("sk_live_" + "x" * 40, "usage")
    assert result.exit_code == 3 and "INVALID_CREDENTIALS" in result.stderr

    result = aiprod(free, "jobs", "create", "--url", files.url + "/nothing.txt")
    assert result.exit_code == 5 and "INVALID_URL" in result.stderr

    result = aiprod(free, "jobs", "create", "--url", files.url + "/notes.txt", "--type", "nope", "--json")
    assert result.exit_code == 5 and json.loads(result.stdout)["details"]["type"][0].startswith("Unknown choice. Must be one of: auto,")

    with closed_port() as port:
        result = aiprod(free, "--max-retries", "0", "usage", base_url=f"http://127.0.0.1:{port}")
    assert result.exit_code == 7 and "No answer" in result.stderr


def test_usage_and_error_logs(free, aiprod):
    usage = json.loads(aiprod(free, "usage", "--json").stdout)
    assert usage["tier"] == "free" and usage["jobs_limit"] == 100
    failed = json.loads(aiprod(free, "jobs", "get", "job_nothere", "--json").stdout)
    logs = json.loads(aiprod(free, "logs", "--errors", "--json").stdout)
    assert [entry["request_id"] for entry in logs] == [failed["request_id"]]
    assert failed["request_id"] in aiprod(free, "logs").stdout


def test_the_installed_command_runs(free, live_server):
    assert subprocess.run([AIPROD, "--version"], capture_output=True, text=True).stdout.startswith("aiprod, version")
    result = subprocess.run([AIPROD, "--base-url", live_server.url, "--api-key", free.key, "usage", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tier"] == "free"


def test_the_aiprod_line_make_run_prints_works(db, settings, tmp_path, monkeypatch, live_server):
    from io import StringIO

    from django.core.management import call_command

    settings.BASE_DIR = tmp_path  # demo keys file
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    out = StringIO()
    call_command("demo_account", stdout=out)
    line = next(line for line in out.getvalue().splitlines() if ".venv/bin/aiprod" in line).split()
    env = dict(part.split("=", 1) for part in line[:2])
    assert set(env) == {"AIPROD_API_KEY", "AIPROD_BASE_URL"} and line[2] == ".venv/bin/aiprod"
    env["AIPROD_BASE_URL"] = live_server.url  # the test server instead of make run's
    result = CliRunner().invoke(main, line[3:] + ["--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["status"] == "completed" and job["type"] == "audio.transcribe"
