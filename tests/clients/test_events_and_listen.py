"""client.events and `aiprod listen`: the account's events, read back and
forwarded, signed, to a local receiver by the real CLI process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiprod_client import errors, webhooks
from aiprod_client.listen import Listener, new_secret
from standardwebhooks import Webhook

from tests.httpservers import serve

AIPROD = str(Path(sys.executable).parent / "aiprod")


def test_events_of_a_job_are_listed_filtered_and_read_with_their_deliveries(free, connect, files):
    client = connect(free)
    job = client.jobs.create(files.url + "/notes.txt", type="document.extract_text")
    events = list(client.events.list())
    assert [e["type"] for e in events if e["job_id"] == job["id"]] == ["job.completed", "job.processing"]
    completed = list(client.events.list(type=["job.completed", "job.failed"]))
    assert [e["job_id"] for e in completed] == [job["id"]]
    assert list(client.events.list(type="job.failed")) == []
    one = client.events.get(completed[0]["id"])
    assert one["data"]["id"] == job["id"] and one["deliveries"] == []
    with pytest.raises(errors.NotFoundError):
        client.events.get("evt_nothere")


def test_listen_forwards_new_events_signed_and_shows_the_local_answer(free, connect, files, live_server):
    env = {**os.environ, "AIPROD_API_KEY": free.key, "AIPROD_BASE_URL": live_server.url}
    with serve({"/hooks": (200, {"Content-Type": "text/plain"}, b"thanks")}) as receiver:
        listen = subprocess.Popen(
            [AIPROD, "listen", "--forward-to", receiver.url + "/hooks", "--interval", "0.2", "--max-events", "2",
             "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready = json.loads(listen.stdout.readline())
            job = connect(free).jobs.create(files.url + "/notes.txt", type="document.extract_text")
            out, err = listen.communicate(timeout=60)
        finally:
            listen.kill()
            listen.wait()
    assert listen.returncode == 0, err
    assert ready["secret"].startswith("whsec_")
    shown = [json.loads(line) for line in out.splitlines()]
    assert [(s["type"], s["status"], s["response"]) for s in shown] == [
        ("job.processing", 200, "thanks"), ("job.completed", 200, "thanks")]
    assert len(receiver.requests) == 2
    for request in receiver.requests:
        payload = webhooks.verify(request.body, request.headers, ready["secret"])
        Webhook(ready["secret"]).verify(request.body, dict(request.headers))  # the oracle agrees
        assert payload["data"]["id"] == job["id"] and request.headers["X-AIPROD-Event"] == payload["event"]


def test_listen_does_not_forward_events_from_before_it_started(free, connect, files, live_server):
    connect(free).jobs.create(files.url + "/notes.txt", type="document.extract_text")
    with serve({"/hooks": 200}) as receiver:
        listener = Listener(connect(free), receiver.url + "/hooks", new_secret())
        listener.start()
        assert listener.poll() == []
        job = connect(free).jobs.create(files.url + "/notes.txt", type="document.extract_text")
        fresh = listener.poll()
        assert [e["job_id"] for e in fresh] == [job["id"], job["id"]]
        assert listener.poll() == []  # each event once



def test_the_cli_lists_and_shows_events(free, connect, files, live_server):
    from aiprod_client.cli import main
    from click.testing import CliRunner

    job = connect(free).jobs.create(files.url + "/notes.txt", type="document.extract_text")
    env = {"AIPROD_API_KEY": free.key, "AIPROD_BASE_URL": live_server.url}
    result = CliRunner().invoke(main, ["events", "list", "--type", "job.completed", "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    [event] = json.loads(result.stdout)
    assert event["job_id"] == job["id"]
    shown = CliRunner().invoke(main, ["events", "get", event["id"]], env=env)
    assert shown.exit_code == 0 and "deliveries" in shown.stdout and "job.completed" in shown.stdout


def test_listen_reports_a_local_server_that_is_down_or_failing(free, connect, files):
    from tests.httpservers import closed_port

    client = connect(free)
    client.jobs.create(files.url + "/notes.txt", type="document.extract_text")
    [event, *_] = list(client.events.list(type="job.completed"))
    with closed_port() as port:
        down = Listener(client, f"http://127.0.0.1:{port}/hooks", new_secret()).forward(event)
    assert down["status"] is None and down["error"] == "ConnectionError"
    with serve({"/hooks": (500, {}, b"boom")}) as receiver:
        failing = Listener(client, receiver.url + "/hooks", new_secret()).forward(event)
    assert failing["status"] == 500 and failing["response"] == "boom" and failing["type"] == "job.completed"
