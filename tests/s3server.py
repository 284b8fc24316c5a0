"""A real S3-compatible server for the tests: moto's server (the S3 HTTP API)
in a subprocess on a free local port. No mock of boto3: the code under test
speaks HTTP to it exactly as to AWS, MinIO or R2.

* :func:`shared_server` — one server per test session (started on first use,
  stopped at exit), with a bucket; `AIPROD_TEST_STORAGE=s3` makes
  aiprod/test_settings.py point the whole suite at it;
* :class:`S3Server` — a server of our own, which a test may stop ("the
  bucket stops answering") and start again on the same port.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": ""}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class S3Server:
    def __init__(self, port: int | None = None):
        self.port = port or _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        moto_server = Path(sys.executable).with_name("moto_server")
        command = [str(moto_server)] if moto_server.exists() else [sys.executable, "-m", "moto.server"]
        self.process = subprocess.Popen(
            [*command, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while not _answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start on port {self.port}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 9)
            self.process.wait(timeout=10)
        self.process = None

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"aiprod-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self, bucket: str, prefix: str = "") -> dict:
        """The variables a process needs to use `bucket` on this server."""
        return {**CREDENTIALS, "AIPROD_S3_BUCKET": bucket, "AIPROD_S3_ENDPOINT_URL": self.endpoint,
                "AIPROD_S3_REGION": "us-east-1", "AIPROD_S3_PREFIX": prefix}


def own_disk_env(path) -> dict:
    """With AIPROD_TEST_STORAGE=s3, the variables that give a subprocess a
    media root of its own (`path`): it must find every job file in the bucket."""
    if os.environ.get("AIPROD_TEST_STORAGE") != "s3":
        return {}  # the local backend is one shared directory by definition
    return {"AIPROD_TEST_MEDIA_ROOT": str(path), "AIPROD_JOB_WORK_DIR": ""}


_shared: S3Server | None = None


def shared_server() -> S3Server:
    global _shared
    if _shared is None:
        _shared = S3Server().start()
        atexit.register(_shared.stop)
    return _shared


def storages_for(server_endpoint: str, bucket: str, *, prefix: str = "") -> dict:
    """A STORAGES setting that puts job files in `bucket` (as AIPROD_S3_* do)."""
    from botocore.config import Config

    return {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket, "endpoint_url": server_endpoint, "region_name": "us-east-1",
                "location": prefix, "querystring_expire": 900, "default_acl": None, "file_overwrite": True,
                "access_key": "testing", "secret_key": "testing",
                "client_config": Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                        connect_timeout=2, read_timeout=10, retries={"max_attempts": 2}),
            },
        },
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    }


class TcpProxy:
    """A TCP forwarder to `target_port` on a port of its own, which a test
    stops ("the object store stops answering": connections refused, open
    ones cut) and starts again on the same port; the server behind it keeps
    its data."""

    def __init__(self, target_port: int):
        import threading

        self.target_port = target_port
        self.port = _free_port()
        self._threading = threading
        self._listener = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._flowing = threading.Event()  # cleared by stall(): connections accepted, bytes held
        self._flowing.set()
        self.trickle_every = 0.0  # set by trickle(): one byte forwarded every that many seconds

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TcpProxy:
        if self._listener is not None:
            return self
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                self._threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def stall(self) -> None:
        """From now on the proxy still accepts connections and reads what
        the client sends, but forwards nothing either way until release()
        (an object store that hangs after the connection is made)."""
        self._flowing.clear()

    def release(self) -> None:
        self._flowing.set()
        self.trickle_every = 0.0

    def trickle(self, every: float = 0.5) -> None:
        """From now on the proxy forwards one byte every `every` seconds,
        either way (a store that trickles), until release()."""
        self.trickle_every = every

    def _pipe(self, source, sink) -> None:
        try:
            while data := source.recv(65536):
                self._flowing.wait()
                while data and self.trickle_every:
                    time.sleep(self.trickle_every)
                    sink.sendall(data[:1])
                    data = data[1:]
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
