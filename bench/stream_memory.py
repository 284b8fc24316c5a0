"""Memory and throughput of POST /jobs/stream under gunicorn.

Starts gunicorn (one sync worker) on a free port against DATABASE_URL,
creates a Pro account with `manage.py create_account`, streams a generated
body (1 GB by default; nothing is held in the client either) to
/jobs/stream, samples the worker's RSS from /proc while the upload runs, and
prints MB/s and the peak RSS growth over the worker's idle RSS.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/aiprod_bench \\
        .venv/bin/python bench/stream_memory.py [--size-mb 1024] [--mode chunked|length|both]

The database must exist; it is migrated first. Uploads land in a temporary
AIPROD_MEDIA_ROOT that is removed at the end; with `--storage s3`, in a
bucket of a local S3 server (moto's, started here) as a multipart upload
while the body arrives (docs/deploy.md).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CHUNK = 1024 * 1024
MP4_HEADER = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Body:
    """A generated body, `size` bytes: an MP4 header, then zeros, 1 MiB per read.
    Iterable (requests sends it chunked) or file-like with a length (Content-Length)."""

    def __init__(self, size: int):
        self.size = size
        self.sent = 0
        self._zeros = b"\x00" * CHUNK

    def _next(self, n: int) -> bytes:
        n = min(n, self.size - self.sent)
        if n <= 0:
            return b""
        data = self._zeros[:n]
        if self.sent == 0:
            data = MP4_HEADER + data[len(MP4_HEADER):]
        self.sent += n
        return data

    def __iter__(self):
        while chunk := self._next(CHUNK):
            yield chunk

    def read(self, n: int = -1) -> bytes:
        return self._next(CHUNK if n is None or n < 0 else n)

    def __len__(self) -> int:
        return self.size


class Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.02):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                return
            time.sleep(self.interval)


def manage(env: dict, *args: str) -> str:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True,
                          text=True).stdout


def upload(base: str, key: str, worker: int, size: int, mode: str) -> dict:
    body = Body(size)
    payload = iter(body) if mode == "chunked" else body
    idle = rss_kib(worker)
    sampler = Sampler(worker)
    sampler.start()
    started = time.monotonic()
    response = requests.post(f"{base}/jobs/stream", params={"filename": "bench.mp4", "type": "media.probe"},
                             data=payload, headers={"X-API-Key": key, "Content-Type": "video/mp4"}, timeout=600)
    elapsed = time.monotonic() - started
    sampler.stop.set()
    sampler.join()
    if response.status_code != 201:
        raise SystemExit(f"upload failed: {response.status_code} {response.text[:500]}")
    job = response.json()
    requests.delete(f"{base}/jobs/{job['id']}", headers={"X-API-Key": key}, timeout=60)
    return {
        "mode": mode,
        "bytes": size,
        "seconds": round(elapsed, 2),
        "mb_per_s": round(size / 1e6 / elapsed, 1),
        "worker_idle_rss_mib": round(idle / 1024, 1),
        "worker_peak_rss_mib": round(sampler.peak / 1024, 1),
        "peak_rss_growth_mib": round((sampler.peak - idle) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="body size in MiB (default 1024)")
    parser.add_argument("--mode", choices=["chunked", "length", "both"], default="both")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--storage", choices=["local", "s3"], default="local",
                        help="s3: job files in a bucket of a local moto server")
    args = parser.parse_args()
    if not args.database_url:
        raise SystemExit("set DATABASE_URL (or --database-url)")
    media = tempfile.mkdtemp(prefix="aiprod-bench-media-")
    env = {**os.environ, "DATABASE_URL": args.database_url, "DJANGO_SETTINGS_MODULE": "aiprod.settings",
           "AIPROD_MEDIA_ROOT": media, "AIPROD_Q_SYNC": "0", "AIPROD_ALLOW_INSECURE_URLS": "1",
           "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)}
    s3 = None
    if args.storage == "s3":
        sys.path.insert(0, str(ROOT))
        from tests.s3server import S3Server

        s3 = S3Server().start()
        env.update(s3.env(s3.create_bucket()))
    manage(env, "migrate", "--noinput", "-v0")
    account = json.loads(manage(env, "create_account", "--email", f"bench-{uuid.uuid4().hex[:8]}@example.com",
                                "--tier", "pro", "--json"))
    port = free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "aiprod.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--worker-class", "sync", "--timeout", "600", "--no-control-socket"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/jobs", headers={"X-API-Key": account["api_key"]}, timeout=2)  # warm up
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)
        worker = children(server.pid)[0]
        modes = ["chunked", "length"] if args.mode == "both" else [args.mode]
        for mode in modes:
            print(json.dumps({**upload(base, account["api_key"], worker, args.size_mb * CHUNK, mode),
                              "storage": args.storage}))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        shutil.rmtree(media, ignore_errors=True)
        if s3 is not None:
            s3.stop()


if __name__ == "__main__":
    main()
