"""Fixtures for the client and CLI tests: the real server (pytest-django's
live_server: a threaded WSGI server on a free port, over the test database),
real input files served by a real local HTTP server, and clients bound to a
persona's key. No HTTP is mocked."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiprod_client import Client

from tests import media_factory as mf
from tests.httpservers import serve


@pytest.fixture(autouse=True)
def _private_media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("client-media")
    makers = {
        "pic.png": lambda p: mf.make_png(p, w=64, h=48),
        "notes.txt": lambda p: mf.make_txt(p, "Some notes.\n"),
    }
    return {name: Path(make(root / name)).read_bytes() for name, make in makers.items()}


@pytest.fixture(scope="session")
def files(media):
    """`files.url + "/pic.png"`: real inputs for jobs."""
    types = {"pic.png": "image/png", "notes.txt": "text/plain"}
    with serve({f"/{n}": (200, {"Content-Type": types[n]}, data) for n, data in media.items()}) as srv:
        yield srv


@pytest.fixture
def connect(live_server):
    """connect(persona_or_key, **options) -> a Client on the live server."""
    made = []

    def make(who, **options) -> Client:
        key = who if isinstance(who, str) or who is None else who.key
        options.setdefault("max_retries", 3)
        client = Client(api_key=key, base_url=live_server.url, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


class AnswerDroppingProxy:
    """A real HTTP proxy in front of the live server that forwards every
    request but, for the first `drop` requests matching `method path`, throws
    the server's answer away and closes the connection: the server did the
    work, the client never hears about it (a lost answer)."""

    def __init__(self, upstream: str, method: str, path: str, drop: int = 1):
        self.upstream = urlsplit(upstream)
        self.method, self.path, self.left = method, path, drop
        self.seen: list[dict] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers)})
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                conn.close()
                if self.command == proxy.method and self.path.split("?")[0] == proxy.path and proxy.left > 0:
                    proxy.left -= 1
                    self.close_connection = True  # no status line: the answer is lost
                    return
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
