"""`make run` stops on SIGTERM as on Ctrl-C (issue 18, point 5): systemd,
Docker and `timeout` send SIGTERM to the process group; gunicorn and the
qcluster both go, none is left orphaned."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.processes import ROOT, free_port, http_get, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GRACE = 2


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live process in the process group ``pgid``."""
    members = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[2]) == pgid and stat[0] != "Z":
                members.append((int(proc.name), (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
        except (OSError, ValueError, IndexError):
            pass
    return members


def test_sigterm_to_make_runs_process_group_stops_gunicorn_and_the_qcluster(tmp_path):
    port = free_port()
    env = {name: value for name, value in os.environ.items()
           if name not in ("REDIS_URL", "AIPROD_REQUIRE_POSTGRES", "DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR")}
    env.update({
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
        "BIND": f"127.0.0.1:{port}",
        "DJANGO_SECRET_KEY": "make-run-sigterm-test-secret-key-0123456789abcdef",
        "AIPROD_MEDIA_ROOT": str(tmp_path / "media"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "AIPROD_WORKER_GRACE_SECONDS": str(GRACE),
    })
    log = open(tmp_path / "run.log", "w")
    process = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    pgid = process.pid
    try:
        def both_up():
            assert process.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            commands = [command for _, command in group_members(pgid)]
            return (http_get(f"http://127.0.0.1:{port}/health").status_code == 200
                    and any("gunicorn" in c for c in commands) and any("qcluster" in c for c in commands))

        wait_until(both_up, timeout=180, what="make run to serve the API and start the worker", interval=0.5)
        time.sleep(1)  # the cluster's sentinel and workers started

        os.killpg(pgid, signal.SIGTERM)
        sent = time.monotonic()
        while group_members(pgid) and time.monotonic() - sent < 60:
            time.sleep(0.2)
        gone_after = time.monotonic() - sent
        left = group_members(pgid)
        print(f"make run gone {gone_after:.1f} s after SIGTERM")
    finally:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)
        log.close()

    assert not left, left  # nothing orphaned: no qcluster in a futex wait, no gunicorn worker
    assert gone_after <= 15 + GRACE, gone_after
    assert http_get(f"http://127.0.0.1:{port}/health").status_code == 0  # nothing listens any more
