"""Chaos (issue 18, point 1b): a steady stream of jobs through a real
gunicorn and real worker clusters while, every KILL_EVERY seconds, a random
one of them is SIGKILLed — a whole cluster (a new one is started), one
worker process, one processing child, or one gunicorn worker. After the
stream every job it created is terminal within 180 s, none has both a
job.completed and a job.failed event, and no request got a 500.

CHAOS_SECONDS (default 20) sets the stream's length and CHAOS_KILL_EVERY
(default 5) the pause between kills: by default four kills, each kind once
(a processing child looked for until one is caught), so every kind of loss
is covered in the suite's time; the issue's "few minutes" run is
CHAOS_SECONDS=180 CHAOS_KILL_EVERY=10."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import time

import psycopg
import pytest

from tests.httpservers import Response, serve
from tests.processes import RequestStream, alive, children_of, gunicorn, qcluster, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STREAM_SECONDS = float(os.environ.get("CHAOS_SECONDS", "20"))
KILL_EVERY = float(os.environ.get("CHAOS_KILL_EVERY", "5"))
RATE = 3.0  # jobs a second
_names = itertools.count(1)
INPUT: dict[str, str] = {}


def job_body() -> dict:
    n = next(_names)
    slow = n % 6 == 0  # one job in six waits 2 s for its input
    return {"name": f"chaos {n}", "type": "media.probe", "input_url": INPUT["slow" if slow else "tone"]}


def descendants(pid: int) -> list[int]:
    found = []
    for child in children_of(pid):
        found.append(child)
        found.extend(descendants(child))
    return found


def test_jobs_end_and_nothing_answers_500_while_random_processes_are_sigkilled(deployment, tone_wav, tmp_path):
    rng = random.Random(18)
    env = deployment.env(AIPROD_Q_WORKERS=2, AIPROD_WORKER_HEARTBEAT_SECONDS=1, AIPROD_WORKER_DEAD_AFTER=5,
                         AIPROD_JOB_HEARTBEAT_SECONDS=0.5, AIPROD_WORKER_GRACE_SECONDS=3)
    routes = {"/tone.wav": (200, {"Content-Type": "audio/wav"}, tone_wav),
              "/slow.wav": Response(headers={"Content-Type": "audio/wav"}, body=tone_wav, delay=2)}
    kills = []
    with contextlib.ExitStack() as stack:
        files = stack.enter_context(serve(routes))
        INPUT.update(tone=f"{files.url}/tone.wav", slow=f"{files.url}/slow.wav")
        base = stack.enter_context(gunicorn(env, tmp_path / "gunicorn.log", workers=2, threads=4))
        clusters = [stack.enter_context(qcluster(env, tmp_path / "qcluster-0.log"))]
        stream = stack.enter_context(RequestStream(base, deployment.key, [("POST", "/jobs", job_body)], rate=RATE))
        started = time.monotonic()
        next_kill = started + KILL_EVERY
        while time.monotonic() - started < STREAM_SECONDS:
            time.sleep(max(0.0, next_kill - time.monotonic()))
            next_kill += KILL_EVERY
            cluster = clusters[-1]
            # A processing child lives for tens of milliseconds (tiny probes):
            # until one has been killed, look for one for up to 3 s.
            look_until = time.monotonic() + (3.0 if "child" not in kills else 0.0)
            while True:
                under_cluster = descendants(cluster.pid)
                sentinels = children_of(cluster.pid)
                workers = [p for s in sentinels for p in children_of(s)]
                processing = [p for w in workers for p in children_of(w)]
                if processing or time.monotonic() >= look_until:
                    break
                time.sleep(0.01)
            gunicorn_master = [p for p in children_of(os.getpid()) if p not in under_cluster]
            choices = {"cluster": [cluster.pid], "worker": workers, "child": processing,
                       "gunicorn": [w for m in gunicorn_master for w in children_of(m)]}
            available = [k for k, pids in choices.items() if pids]
            # Each kind once before any twice, in a random order.
            kind = rng.choice([k for k in available if k not in kills] or available)
            if kind == "cluster":
                os.killpg(cluster.pid, signal.SIGKILL)
                cluster.wait(timeout=10)
                clusters.append(stack.enter_context(qcluster(env, tmp_path / f"qcluster-{len(clusters)}.log")))
            else:
                pid = rng.choice(choices[kind])
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                wait_until(lambda: not alive(pid), timeout=10, what=f"{kind} {pid} to die")
            kills.append(kind)
        stream.stop()
        ended = time.monotonic()

        created = [a.body["id"] for a in stream.answers if a.status == 201]
        failures = [(a.status, a.body) for a in stream.answers if a.status >= 500 and a.status != 503]

        def terminal() -> bool:
            with psycopg.connect(deployment.postgres.url) as conn:
                left = conn.execute("SELECT count(*) FROM jobs_job WHERE id = ANY(%s) AND status IN "
                                    "('pending', 'processing')", (created,)).fetchone()[0]
            return left == 0

        wait_until(terminal, timeout=180, what="every job to be terminal", interval=1)
        settled_after = time.monotonic() - ended

    with psycopg.connect(deployment.postgres.url) as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM jobs_job WHERE id = ANY(%s) GROUP BY status",
                                     (created,)).fetchall())
        both = conn.execute(
            "SELECT job_id FROM webhooks_event WHERE job_id = ANY(%s) AND type IN ('job.completed', 'job.failed') "
            "GROUP BY job_id HAVING count(DISTINCT type) > 1", (created,)).fetchall()
    print(f"chaos: {len(created)} jobs, kills {kills}, statuses {statuses}, settled {settled_after:.1f}s after the stream")
    assert len(created) >= STREAM_SECONDS * RATE * 0.5
    assert len(kills) >= STREAM_SECONDS // KILL_EVERY - 1
    assert {"cluster", "worker", "gunicorn"} <= set(kills), kills  # and "child" whenever one was caught
    assert failures == []
    assert both == []
    assert settled_after < 180
