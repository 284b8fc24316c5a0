"""The pinned transport: one request on one connection to a checked address.

The TCP connection goes to exactly the addresses target.py resolved and
checked, while the hostname is still used for the Host header, TLS SNI and
certificate verification. No proxies from the environment, no cookies,
``User-Agent: AIPROD/33``, ``Accept-Encoding: identity`` (byte counts and
limits are on the raw bytes). A :class:`Deadline` bounds the whole exchange
on the wall clock, and :func:`classify` names what a transport failure was.
"""

from __future__ import annotations

import errno
import socket
import ssl
import sys
import threading
import time
from typing import Mapping

import urllib3
from urllib3.exceptions import (
    HTTPError as Urllib3HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError as Urllib3SSLError,
    TimeoutError as Urllib3TimeoutError,
)
from urllib3.util import Timeout

from .errors import Kind
from .policy import ca_bundle
from .target import Target

USER_AGENT = "AIPROD/33"


class Deadline:
    """A hard wall-clock bound: when it passes, the sockets of the registered
    connections are shut down, which wakes any blocked recv/send (a server
    dripping one byte per second defeats per-read timeouts, not this)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.fired = False
        self._conns: list = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(0.001, self.expires - time.monotonic())

    def register(self, conn) -> None:
        with self._lock:
            self._conns.append(conn)

    def connection(self):
        """The last connection registered (the one the response came on)."""
        with self._lock:
            return self._conns[-1] if self._conns else None

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            conns = list(self._conns)
        for conn in conns:
            sock = getattr(conn, "sock", None)
            if sock is not None:
                try:
                    # socket.socket.shutdown, not SSLSocket.shutdown: wake the
                    # reader without touching the TLS object it is using.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass

    def cancel(self) -> None:
        self._timer.cancel()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cancel()
        return False


class _PinnedConnectionMixin:
    """Connects to the pre-resolved, pre-checked addresses only.

    ``self.host`` stays the hostname, so http.client writes it into the Host
    header and urllib3 uses it for SNI and certificate hostname verification;
    only the TCP connect goes to the pinned IP.
    """

    def __init__(self, *args, pinned_addresses=(), deadline: Deadline | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._pinned_addresses = tuple(pinned_addresses)
        self._deadline = deadline
        self.connected_address = None  # the sockaddr actually connected to

    def _new_conn(self) -> socket.socket:
        if not self._pinned_addresses:  # never fall back to a fresh DNS lookup
            raise NewConnectionError(self, "No checked address to connect to")
        if self._deadline is not None:
            self._deadline.register(self)
        last_error: OSError | None = None
        for family, sockaddr in self._pinned_addresses:
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                timeout = self.timeout
                if isinstance(timeout, (int, float)):
                    sock.settimeout(timeout)
                sock.connect(sockaddr)
                self.connected_address = sockaddr
                # Kept after http.client drops `sock` (a Connection: close
                # answer): a download watchdog shuts this one down.
                self.raw_socket = sock
                sys.audit("http.client.connect", self, self.host, self.port)
                return sock
            except socket.timeout as e:
                sock.close()
                raise urllib3.exceptions.ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                ) from e
            except OSError as e:
                sock.close()
                last_error = e
        raise NewConnectionError(self, f"Failed to establish a new connection: {last_error}") from last_error


class _PinnedHTTPConnection(_PinnedConnectionMixin, urllib3.connection.HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, urllib3.connection.HTTPSConnection):
    pass


class _PinnedHTTPConnectionPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSConnectionPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


def _pool(target: Target, timeout: Timeout, deadline: Deadline | None):
    """A one-connection pool for one request to the target's pinned addresses."""
    common = dict(
        host=target.host,
        port=target.port,
        timeout=timeout,
        maxsize=1,
        block=False,
        retries=False,
        pinned_addresses=target.addresses,
        deadline=deadline,
    )
    if target.scheme == "https":
        return _PinnedHTTPSConnectionPool(cert_reqs="CERT_REQUIRED", ca_certs=ca_bundle(), **common)
    return _PinnedHTTPConnectionPool(**common)


def _headers(target: Target, extra: Mapping[str, str] | None = None) -> dict:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", "Accept": "*/*"}
    if target.authorization:
        headers["Authorization"] = target.authorization
    if extra:
        lower = {k.lower(): k for k in headers}
        for key, value in extra.items():
            if key.lower() in lower:
                del headers[lower[key.lower()]]
            headers[key] = value
    return headers


class Response:
    """An open response plus the pool it must be closed with."""

    def __init__(self, pool, response):
        self.pool = pool
        self.raw = response

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            self.pool.close()


def open_response(method: str, target: Target, *, timeout: Timeout, deadline: Deadline | None, headers=None, body=None):
    pool = _pool(target, timeout, deadline)
    try:
        response = pool.urlopen(
            method,
            target.request_target,
            body=body,
            headers=_headers(target, headers),
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            release_conn=False,
            timeout=timeout,
        )
    except BaseException:
        pool.close()
        raise
    if deadline is not None and deadline.fired:
        # The watchdog cut the connection while headers were arriving; what
        # http.client parsed up to the cut may look like a complete answer.
        response.close()
        pool.close()
        raise ReadTimeoutError(pool, target.request_target, f"No complete response within {deadline.seconds}s")
    return Response(pool, response)


# --------------------------------------------------------------------------- error classification


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def classify(exc: BaseException, deadline: Deadline | None = None) -> str:
    """One of: timeout, connect_timeout, refused, ssl, reset, unreachable, protocol, other."""
    if deadline is not None and deadline.fired:
        return "timeout"
    chain = list(_chain(exc))
    for e in chain:
        if isinstance(e, (ssl.SSLError, ssl.CertificateError, Urllib3SSLError)):
            return "ssl"
    for e in chain:
        if isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED:
            return "refused"
    for e in chain:
        if getattr(e, "errno", None) in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
            return "unreachable"
    if isinstance(exc, NewConnectionError) and not isinstance(exc.__cause__, socket.timeout):
        return "other"
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return "connect_timeout"
    for e in chain:
        if isinstance(e, (ReadTimeoutError, Urllib3TimeoutError, socket.timeout, TimeoutError)):
            return "timeout"
    for e in chain:
        if isinstance(e, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return "reset"
    for e in chain:
        if isinstance(e, ProtocolError):
            return "protocol"
    return "other"


TRANSPORT_ERRORS = (Urllib3HTTPError, OSError, ssl.SSLError, ssl.CertificateError)

# classify()'s answer as an error kind (the clients word each one their own way).
# classify()'s answer worded to follow "...: " in a customer's message (the
# preflight's "{label} is unreachable: ...", the download's "Invalid input: ...").
TRANSPORT_REASONS = {
    "refused": "connection refused",
    "ssl": "SSL certificate error",
    "unreachable": "host unreachable",
    "reset": "connection reset",
    "protocol": "invalid HTTP response",
}

TRANSPORT_KINDS = {
    "timeout": Kind.TIMEOUT,
    "connect_timeout": Kind.TIMEOUT,
    "refused": Kind.REFUSED,
    "ssl": Kind.TLS,
    "unreachable": Kind.CONNECTION,
    "reset": Kind.CONNECTION,
    "protocol": Kind.CONNECTION,
    "other": Kind.CONNECTION,
}


def content_length(headers) -> int | None:
    raw = headers.get("Content-Length")
    if raw is None:
        return None
    try:
        value = int(raw.split(",")[0].strip())
    except ValueError:
        return None
    return value if value >= 0 else None
