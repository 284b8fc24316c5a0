"""Real local HTTP(S) servers for tests: webhook receivers, input-file servers.

A server is a ``ThreadingHTTPServer`` on a free port of 127.0.0.1 (or any
local address), run in a thread, with routes mapping a path to a response::

    from tests.httpservers import Response, redirect, serve, HANG

    with serve({
        "/ok": (200, {"Content-Type": "text/plain"}, b"hello"),
        "/gone": 404,                                   # status only
        "/moved": redirect("/ok"),                       # 302 to /ok
        "/slow": Response(body=b"x", delay=2),          # 2 s before the status line
        "/hang": Response(delay=HANG),                  # never answers
        "/big": Response(body=iter_chunks(b"x" * 65536, 100), content_length=False),
        "/echo": lambda req: (200, {}, req.body),      # computed per request
        "HEAD /file": 405,                              # method-specific route
    }) as srv:
        requests.post(srv.url + "/echo", data=b"hi")
        req = srv.requests[0]          # RecordedRequest
        req.method, req.path, req.headers["Content-Type"], req.body, req.client_address
        srv.wait_for_requests(2)       # for deliveries made by another thread/process

Unknown paths answer 404. ``srv.routes`` may be changed while it runs
(``srv.routes["/ok"] = 500``). Every connection is closed after one response.

Route values
    ``int`` status; ``(status, headers, body)``; a :class:`Response`; or a
    callable ``fn(request) -> any of those``. ``body`` may be bytes, str, an
    iterable of bytes (streamed), or a callable ``fn(request)`` returning one
    of these.

TLS: ``serve(..., tls=(certfile, keyfile))`` or an ``ssl.SSLContext`` (pairs from
tests/certificates.py); handshake failures are recorded in ``srv.tls_errors``.

``closed_port()`` gives a port on which connections are refused.
"""

from __future__ import annotations

import contextlib
import http.client
import json as _json
import socket
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "HANG",
    "RecordedRequest",
    "Response",
    "LocalServer",
    "serve",
    "redirect",
    "iter_chunks",
    "closed_port",
]

#: ``Response(delay=HANG)`` or ``Response(stall_after=n, stall=HANG)``: wait until the server stops.
HANG = float("inf")


@dataclass
class RecordedRequest:
    method: str
    path: str  # as on the request line, query string included
    headers: http.client.HTTPMessage  # case-insensitive: req.headers["content-type"]
    body: bytes
    client_address: tuple  # the peer (client) address
    server_address: tuple  # the local address the connection arrived at
    received_at: float = field(default_factory=time.time)
    # Filled in while answering:
    status: int | None = None
    bytes_sent: int = 0  # response body bytes written
    write_error: str | None = None  # e.g. "BrokenPipeError": the client closed early

    @property
    def path_only(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    def json(self) -> Any:
        return _json.loads(self.body)

    @property
    def header_dict(self) -> dict[str, str]:
        """Headers as a plain dict with lower-case names (the last value wins)."""
        return {k.lower(): v for k, v in self.headers.items()}


@dataclass
class Response:
    """A scripted answer.

    status/headers/body: what to send. ``body``: bytes, str, an iterable of
    bytes (each item written and flushed as it comes) or ``fn(request)``.
    delay: seconds to wait before the status line (``HANG``: never answer).
    content_length: None = automatic (set when the body is bytes); an int sends
    that value whatever the body; False sends none (the body ends when the
    connection closes, unless ``chunked``).
    chunked: send ``Transfer-Encoding: chunked``.
    chunk_delay: seconds to sleep between body items.
    stall_after / stall: after ``stall_after`` body bytes, sleep ``stall``
    seconds (``HANG`` = until the server stops) before continuing.
    raw: ``fn(handler, request)`` that writes the whole response itself to
    ``handler.wfile`` (for malformed answers).
    """

    status: int = 200
    headers: dict | None = None
    body: Any = b""
    delay: float = 0.0
    content_length: int | bool | None = None
    chunked: bool = False
    chunk_delay: float = 0.0
    stall_after: int | None = None
    stall: float = HANG
    raw: Callable | None = None


def redirect(location: str, status: int = 302) -> Response:
    return Response(status=status, headers={"Location": location})


def iter_chunks(chunk: bytes, count: int) -> Callable[[Any], Iterable[bytes]]:
    """A body of ``count`` copies of ``chunk``, generated as it is sent (usable for many requests)."""

    def body(_request):
        for _ in range(count):
            yield chunk

    return body


def _as_response(value, request) -> Response:
    if callable(value) and not isinstance(value, Response):
        value = value(request)
    if isinstance(value, Response):
        return value
    if isinstance(value, int):
        return Response(status=value)
    if isinstance(value, tuple):
        if len(value) == 2:
            status, body = value
            return Response(status=status, body=body)
        status, headers, body = value
        return Response(status=status, headers=dict(headers or {}), body=body)
    raise TypeError(f"unsupported route value: {value!r}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self):
        self.close_connection = True
        try:
            body = self._read_body()
        except (ValueError, OSError):
            body = b""
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers=self.headers,
            body=body,
            client_address=tuple(self.client_address[:2]),
            server_address=tuple(self.connection.getsockname()[:2]),
        )
        server = self.server.owner
        with server.lock:
            server.requests.append(request)
            server.new_request.notify_all()
        path = urlsplit(self.path).path
        routes = server.routes
        value = routes.get(f"{self.command} {path}", routes.get(path, server.default))
        try:
            response = _as_response(value, request)
            self._respond(response, request)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, ssl.SSLError, OSError) as exc:
            request.write_error = type(exc).__name__

    def _sleep(self, seconds: float) -> None:
        stopping = self.server.owner.stopping
        stopping.wait(None if seconds == HANG else seconds)

    def _respond(self, response: Response, request: RecordedRequest) -> None:
        if response.delay:
            self._sleep(response.delay)
            if self.server.owner.stopping.is_set():
                return
        request.status = response.status
        if response.raw is not None:
            response.raw(self, request)
            self.wfile.flush()
            return
        body = response.body
        if callable(body):
            body = body(request)
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = dict(response.headers or {})
        names = {k.lower() for k in headers}
        self.send_response_only(response.status)
        for key, value in headers.items():
            self.send_header(key, str(value))
        if "connection" not in names:
            self.send_header("Connection", "close")
        if response.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif response.content_length is not False and "content-length" not in names:
            if isinstance(response.content_length, int) and not isinstance(response.content_length, bool):
                self.send_header("Content-Length", str(response.content_length))
            elif isinstance(body, (bytes, bytearray)):
                self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        if self.command == "HEAD" or body is None:
            return
        items = [body] if isinstance(body, (bytes, bytearray)) else body
        stalled = False
        for item in items:
            if not item:
                continue
            if response.stall_after is not None and not stalled:
                room = response.stall_after - request.bytes_sent
                if room < len(item):
                    if room > 0:
                        self._write(item[:room], response, request)
                        item = item[room:]
                    stalled = True
                    self._sleep(response.stall)
                    if self.server.owner.stopping.is_set():
                        return
            self._write(item, response, request)
            if response.chunk_delay:
                time.sleep(response.chunk_delay)
        if response.chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write(self, data: bytes, response: Response, request: RecordedRequest) -> None:
        if response.chunked:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            self.wfile.write(data)
        self.wfile.flush()
        request.bytes_sent += len(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address, owner: "LocalServer", ssl_context: ssl.SSLContext | None):
        self.owner = owner
        self.ssl_context = ssl_context
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, _Handler)

    def server_bind(self):
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup
        # that can take seconds for addresses like 127.0.0.2.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        if self.ssl_context is None:
            return super().finish_request(request, client_address)
        request.settimeout(10)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            with self.owner.lock:
                self.owner.tls_errors.append(f"{type(exc).__name__}: {exc}")
            return
        try:
            tls.settimeout(None)
            super().finish_request(tls, client_address)
        finally:
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request, client_address):
        pass  # connection errors are expected in these tests (clients hanging up early)


class LocalServer:
    """A running server; see the module docstring."""

    def __init__(self, routes=None, *, host="127.0.0.1", port=0, tls=None, default=404):
        self.routes: dict = dict(routes or {})
        self.default = default
        self.requests: list[RecordedRequest] = []
        self.tls_errors: list[str] = []
        self.lock = threading.Lock()
        self.new_request = threading.Condition(self.lock)
        self.stopping = threading.Event()
        context = None
        if isinstance(tls, ssl.SSLContext):
            context = tls
        elif tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
        self.scheme = "https" if context else "http"
        self._server = _Server((host, port), self, context)
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. http://127.0.0.1:38211."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def url_for(self, path: str, host: str | None = None) -> str:
        """A URL for ``path``, optionally naming the server by another host (e.g. "localhost")."""
        if host is None:
            return self.url + path
        return f"{self.scheme}://{host}:{self.port}{path}"

    @property
    def last_request(self) -> RecordedRequest | None:
        with self.lock:
            return self.requests[-1] if self.requests else None

    def wait_for_requests(self, count: int = 1, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``count`` requests arrived; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self.new_request:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} request(s) within {timeout}s, got {len(self.requests)}")
                self.new_request.wait(left)
            return list(self.requests)

    def start(self) -> "LocalServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(routes=None, *, host: str = "127.0.0.1", port: int = 0, tls=None, default=404) -> LocalServer:
    """Start a server (use as a context manager: ``with serve({...}) as srv``)."""
    return LocalServer(routes, host=host, port=port, tls=tls, default=default)


@contextlib.contextmanager
def closed_port(host: str = "127.0.0.1"):
    """A port on ``host`` where connections are refused (bound, never listening)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()
