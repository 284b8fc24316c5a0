"""Every outbound HTTP request to an address a customer chose (SPEC §8–§10).

Input-URL preflight (``preflight``), input download (``download``) and webhook
delivery (``post``) all go through this module, so the rules of SPEC §9 hold
in one place:

* Unless insecure mode is on, only ``https://`` URLs are accepted, and a host
  is refused when ANY of its resolved addresses is not public (loopback,
  private, link-local / cloud metadata, CGNAT, multicast, unspecified,
  reserved, benchmarking, documentation, 6to4 and Teredo, and the IPv4
  address embedded in IPv4-mapped, IPv4-compatible and NAT64 IPv6 addresses).
* DNS is resolved ONCE per hop; the addresses are checked and the TCP
  connection is made to exactly those checked addresses ("pinning"), while
  the hostname is still used for the Host header, TLS SNI and certificate
  verification. A DNS-rebinding host therefore cannot pass the check and then
  connect elsewhere. Every redirect hop is resolved, checked and pinned again.
* No proxies from the environment, no cookies, ``User-Agent: AIPROD/33``,
  ``Accept-Encoding: identity`` (byte counts and limits are on the raw bytes).

Settings (read at call time, so tests can override them):

``AIPROD_ALLOW_INSECURE_URLS`` (bool, default False)
    Lifts both the HTTPS rule and the address rule (development, tests).
``AIPROD_OUTBOUND_ALLOW_HTTP`` (bool, default = AIPROD_ALLOW_INSECURE_URLS)
    Allows plain http:// while keeping the address checks on.
``AIPROD_OUTBOUND_ALLOWED_NETWORKS`` (list of CIDR strings or ip_network
    objects, or a comma-separated string; default empty)
    Addresses in these networks count as public even with insecure mode off.
``AIPROD_OUTBOUND_CA_BUNDLE`` (path or None, default None = certifi's bundle)
    CA certificates used to verify HTTPS servers.

Error codes carried by :class:`OutboundError`:

* ``INVALID_URL``: the URL is refused by policy or syntax (all ``check_url``
  errors), and every ``preflight`` failure (SPEC §8 answers 422 INVALID_URL).
* ``INPUT_TOO_LARGE``: ``download`` body over ``max_bytes``.
* ``INPUT_FETCH_FAILED``: any other ``download`` failure.
* ``DELIVERY_FAILED``: a ``post`` transport failure.
"""

from __future__ import annotations

import base64
import errno
import ipaddress
import socket
import ssl
import sys
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping
from urllib.parse import unquote, urljoin, urlsplit

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

__all__ = [
    "OutboundError",
    "PreflightResult",
    "DownloadResult",
    "PostResult",
    "check_url",
    "preflight",
    "download",
    "post",
    "is_public_address",
    "USER_AGENT",
]

USER_AGENT = "AIPROD/33"
CHUNK_SIZE = 64 * 1024
MAX_REDIRECTS = 2
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

CODE_INVALID_URL = "INVALID_URL"
CODE_INPUT_TOO_LARGE = "INPUT_TOO_LARGE"
CODE_FETCH_FAILED = "INPUT_FETCH_FAILED"
CODE_DELIVERY_FAILED = "DELIVERY_FAILED"


# --------------------------------------------------------------------------- API types


class OutboundError(Exception):
    """An outbound request was refused or failed.

    ``message``: the customer-facing wording; ``code``: e.g. INVALID_URL;
    ``permanent``: retrying will not help; ``status_code``: the HTTP status
    when the failure is the server's answer.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = CODE_INVALID_URL,
        permanent: bool = True,
        status_code: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.permanent = permanent
        self.status_code = status_code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"OutboundError({self.message!r}, code={self.code!r}, "
            f"permanent={self.permanent!r}, status_code={self.status_code!r})"
        )


@dataclass(frozen=True)
class PreflightResult:
    status_code: int
    content_type: str | None
    content_length: int | None
    final_url: str


@dataclass(frozen=True)
class DownloadResult:
    content_type: str | None
    size_bytes: int
    final_url: str


@dataclass(frozen=True)
class PostResult:
    status_code: int
    headers: Mapping[str, str]  # case-insensitive (urllib3 HTTPHeaderDict)
    body_prefix: bytes
    duration_ms: int


# --------------------------------------------------------------------------- settings


_UNSET = object()


def _setting(name: str, default):
    """settings.NAME at call time; the default when Django is not configured."""
    try:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured
    except ImportError:  # pragma: no cover - Django is a dependency
        return default
    try:
        value = getattr(settings, name, _UNSET)
    except ImproperlyConfigured:
        return default
    return default if value is _UNSET or value is None else value


def _parse_networks(value) -> list:
    if not value:
        return []
    if isinstance(value, str):
        value = [item for item in value.split(",")]
    networks = []
    for item in value:
        if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            networks.append(item)
            continue
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"AIPROD_OUTBOUND_ALLOWED_NETWORKS: {text!r} is not an IP address or CIDR") from None
    return networks


@dataclass(frozen=True)
class _Policy:
    check_addresses: bool
    allow_http: bool
    allowed_networks: tuple


def _policy() -> _Policy:
    insecure = bool(_setting("AIPROD_ALLOW_INSECURE_URLS", False))
    allow_http = bool(_setting("AIPROD_OUTBOUND_ALLOW_HTTP", insecure))
    networks = tuple(_parse_networks(_setting("AIPROD_OUTBOUND_ALLOWED_NETWORKS", [])))
    return _Policy(check_addresses=not insecure, allow_http=allow_http, allowed_networks=networks)


def _ca_bundle() -> str | None:
    path = _setting("AIPROD_OUTBOUND_CA_BUNDLE", None)
    if path:
        return str(path)
    try:
        import certifi

        return certifi.where()
    except ImportError:  # pragma: no cover - certifi comes with requests
        return None  # urllib3 falls back to the system store


# --------------------------------------------------------------------------- address policy

_N = ipaddress.ip_network
# Refused on top of "not is_global" (several of these are global per the IANA
# registries but must still never be a webhook or input target).
_BLOCKED_V4 = tuple(
    _N(n)
    for n in (
        "0.0.0.0/8",  # "this network", unspecified
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "192.31.196.0/24",  # AS112
        "192.52.193.0/24",  # AMT
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "192.175.48.0/24",  # AS112 direct delegation
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. broadcast
    )
)
_BLOCKED_V6 = tuple(
    _N(n)
    for n in (
        "::/96",  # unspecified, loopback, deprecated IPv4-compatible
        "::ffff:0:0/96",  # IPv4-mapped (the embedded address is judged too)
        "::ffff:0:0:0/96",  # IPv4-translated
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, incl. Teredo 2001::/32
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4: deprecated (RFC 7526) and able to reach any IPv4 address
        "3fff::/20",  # documentation
        "5f00::/16",  # SRv6 SIDs
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_NAT64_WKP = _N("64:ff9b::/96")
_SIXTOFOUR = _N("2002::/16")


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, compatible, 6to4, Teredo, NAT64)."""
    found = []
    if addr.ipv4_mapped is not None:
        found.append(addr.ipv4_mapped)
    if addr in _SIXTOFOUR and addr.sixtofour is not None:
        found.append(addr.sixtofour)
    if addr.teredo is not None:
        found.extend(addr.teredo)  # (server, client)
    if addr in _NAT64_WKP:
        found.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    if int(addr) >> 32 == 0 and int(addr) > 1:  # ::a.b.c.d (IPv4-compatible)
        found.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    return found


def _in_any(addr, networks) -> bool:
    return any(addr.version == net.version and addr in net for net in networks)


def is_public_address(addr, allowed_networks=()) -> bool:
    """True when ``addr`` (str or ip_address) may be connected to with checks on.

    ``allowed_networks`` are treated as public (AIPROD_OUTBOUND_ALLOWED_NETWORKS).
    """
    if isinstance(addr, str):
        addr = ipaddress.ip_address(addr.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id:
        addr = ipaddress.IPv6Address(addr.compressed.split("%", 1)[0])
    if allowed_networks:
        if _in_any(addr, allowed_networks):
            return True
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            if _in_any(addr.ipv4_mapped, allowed_networks):
                return True
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            # ::ffff:a.b.c.d reaches a.b.c.d: judge that address alone.
            return is_public_address(addr.ipv4_mapped, allowed_networks)
        if addr in _NAT64_WKP:
            # DNS64 answers 64:ff9b::a.b.c.d for IPv4-only hosts on IPv6-only
            # networks; the gateway forwards to a.b.c.d: judge that alone.
            return is_public_address(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF), allowed_networks)
        for inner in _embedded_ipv4(addr):
            if not is_public_address(inner, allowed_networks):
                return False
        blocked = _BLOCKED_V6
    else:
        blocked = _BLOCKED_V4
    if not addr.is_global:
        return False
    if (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_unspecified
        or addr.is_reserved
    ):
        return False
    return not _in_any(addr, blocked)


# --------------------------------------------------------------------------- URL checking


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str  # ASCII hostname or IP literal without brackets
    port: int
    request_target: str  # path + query, as sent on the request line
    addresses: tuple  # ((family, sockaddr), ...) resolved and checked: connect only to these
    authorization: str | None  # Basic credentials from the URL's userinfo, this hop only


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:g}"


def _format_size(n: int) -> str:
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    for unit, size in (("GB", 1000**3), ("MB", 1000**2), ("KB", 1000)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _requote(value: str) -> str:
    try:
        from requests.utils import requote_uri

        return requote_uri(value)
    except ImportError:  # pragma: no cover
        from urllib.parse import quote

        return quote(value, safe="!#$%&'()*+,/:;=?@[]~")


_LOCAL_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7",
))
LOCAL_DEVELOPMENT_HINT = "; for local development set AIPROD_ALLOW_INSECURE_URLS=1 on the server"


def _local_hint(host: str | None, addresses=()) -> str:
    """The hint for a URL refused because insecure URLs are off, when its host
    is this machine or a private network (a developer's own file server), not
    for public names nor link-local/metadata addresses. ``addresses``: what a
    host name resolved to; a name whose every address is loopback/private
    (a LAN file server, the machine's own name) gets the hint too; one mixing
    public and private addresses does not (that is not a development setup)."""
    host = (host or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost") or _is_local_address(host):
        return LOCAL_DEVELOPMENT_HINT
    if addresses and all(_is_local_address(address) for address in addresses):
        return LOCAL_DEVELOPMENT_HINT
    return ""


def _is_local_address(value: str) -> bool:
    try:
        addr = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in net for net in _LOCAL_NETWORKS if net.version == addr.version)


def _addresses_for_hint(host: str | None) -> tuple[str, ...]:
    """Best-effort resolution of a refused http:// URL's host name, only to
    choose the message (nothing connects): () when it does not resolve."""
    if not host or _is_local_address(host):
        return ()
    try:
        infos = socket.getaddrinfo(host.encode("idna").decode("ascii"), 80, type=socket.SOCK_STREAM,
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError, OSError):
        return ()
    return tuple(sockaddr[0] for family, _t, _p, _c, sockaddr in infos if family in (socket.AF_INET, socket.AF_INET6))


def _parse(url: str, label: str, policy: _Policy):
    invalid = OutboundError(f"{label} is not a valid URL", code=CODE_INVALID_URL)
    if not isinstance(url, str) or not url or len(url) > 8192:
        raise invalid
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        raise invalid
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise invalid from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        if not policy.allow_http and scheme:
            raise OutboundError(f"{label} must use HTTPS", code=CODE_INVALID_URL)
        raise invalid
    if scheme == "http" and not policy.allow_http:
        hint = _local_hint(parts.hostname) or _local_hint(parts.hostname, _addresses_for_hint(parts.hostname))
        raise OutboundError(f"{label} must use HTTPS{hint}", code=CODE_INVALID_URL)
    host = parts.hostname  # lowercased, brackets removed
    if not host:
        raise invalid
    if port == 0:
        raise invalid
    if port is None:
        port = 443 if scheme == "https" else 80
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        is_ip = True
    except ValueError:
        is_ip = False
    if not is_ip:
        try:
            host = host.encode("idna").decode("ascii")
        except (UnicodeError, ValueError):
            raise invalid from None
        if not all(ch.isalnum() or ch in "-._" for ch in host) or ".." in host:
            raise invalid
    elif "%" in host:
        raise invalid  # zone ids are never a public target
    request_target = _requote(parts.path or "/")
    if parts.query:
        request_target += "?" + _requote(parts.query)
    authorization = None
    if parts.username is not None:
        creds = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(creds.encode("utf-8")).decode("ascii")
    return scheme, host, port, request_target, authorization


class _ResolutionError(OutboundError):
    """DNS gave no answer (possibly transient)."""


def _resolve(host: str, port: int, label: str) -> tuple:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        raise _ResolutionError(f"{label} host could not be resolved", permanent=False) from None
    seen, addresses = set(), []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        key = (family, sockaddr[0])
        if key not in seen:
            seen.add(key)
            addresses.append((family, sockaddr))
    if not addresses:
        raise _ResolutionError(f"{label} host could not be resolved", permanent=False)
    return tuple(addresses)


def _check_addresses(addresses, label: str, policy: _Policy, host: str | None = None) -> None:
    if not policy.check_addresses:
        return
    for _family, sockaddr in addresses:
        try:
            ok = is_public_address(sockaddr[0], policy.allowed_networks)
        except ValueError:
            ok = False
        if not ok:
            hint = _local_hint(host, [address[0] for _f, address in addresses])
            raise OutboundError(f"{label} resolves to a private address{hint}", code=CODE_INVALID_URL)


def _target(url: str, label: str, policy: _Policy | None = None) -> _Target:
    policy = policy or _policy()
    scheme, host, port, request_target, authorization = _parse(url, label, policy)
    addresses = _resolve(host, port, label)
    _check_addresses(addresses, label, policy, host)
    return _Target(url, scheme, host, port, request_target, addresses, authorization)


def check_url(url: str, *, label: str = "Input URL") -> None:
    """Syntax, scheme and resolved-address check, without connecting.

    Raises OutboundError(code INVALID_URL): "{label} is not a valid URL",
    "{label} must use HTTPS", "{label} host could not be resolved"
    (permanent=False), "{label} resolves to a private address".
    """
    _target(url, label)


# --------------------------------------------------------------------------- pinned connections


class _Deadline:
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

    def __init__(self, *args, pinned_addresses=(), deadline: _Deadline | None = None, **kwargs):
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


def _pool(target: _Target, timeout: Timeout, deadline: _Deadline | None):
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
        return _PinnedHTTPSConnectionPool(cert_reqs="CERT_REQUIRED", ca_certs=_ca_bundle(), **common)
    return _PinnedHTTPConnectionPool(**common)


def _headers(target: _Target, extra: Mapping[str, str] | None = None) -> dict:
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


class _Response:
    """An open response plus the pool it must be closed with."""

    def __init__(self, pool, response):
        self.pool = pool
        self.raw = response

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            self.pool.close()


def _open(method: str, target: _Target, *, timeout: Timeout, deadline: _Deadline | None, headers=None, body=None):
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
    return _Response(pool, response)


# --------------------------------------------------------------------------- error classification


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _classify(exc: BaseException, deadline: _Deadline | None = None) -> str:
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


_TRANSPORT_ERRORS = (Urllib3HTTPError, OSError, ssl.SSLError, ssl.CertificateError)


def _next_hop(response: _Response, current: _Target, label: str, policy: _Policy) -> _Target | None:
    """The checked target of a redirect, or None when the response is not one."""
    if response.raw.status not in REDIRECT_STATUSES:
        return None
    location = response.raw.headers.get("Location")
    if not location:
        return None
    try:
        next_url = urljoin(current.url, _requote(location.strip()))
    except ValueError:  # e.g. "http://[::1" (an unclosed IPv6 literal)
        raise OutboundError(f"{label} redirected to an invalid URL") from None
    return _target(next_url, label, policy)


# --------------------------------------------------------------------------- preflight


def preflight(url: str, *, label: str = "Input URL", timeout: float = 10.0) -> PreflightResult:
    """Ask the server whether ``url`` is there, without downloading it.

    HEAD (a body-less GET when HEAD answers 405/501), at most 2 redirects
    (each resolved, checked and pinned again), a 2xx within ``timeout``
    seconds overall. Raises OutboundError(code INVALID_URL), wording:
    "{label} is unreachable: connection timeout after {timeout}s",
    "{label} returned HTTP {status}" (status_code set),
    "{label} is unreachable: connection refused",
    "{label} is unreachable: SSL certificate error",
    "{label} is unreachable: too many redirects",
    "{label} is unreachable: host unreachable" / "connection reset" /
    "invalid HTTP response" / "connection failed" (and the check_url messages).
    """
    policy = _policy()
    target = _target(url, label, policy)
    method = "HEAD"
    redirects = 0
    timeout_message = f"{label} is unreachable: connection timeout after {_fmt_seconds(timeout)}s"
    with _Deadline(timeout) as deadline:
        while True:
            remaining = deadline.remaining()
            try:
                response = _open(
                    method, target, timeout=Timeout(connect=remaining, read=remaining), deadline=deadline
                )
            except _TRANSPORT_ERRORS as exc:
                kind = _classify(exc, deadline)
                if kind in ("timeout", "connect_timeout"):
                    raise OutboundError(timeout_message, permanent=False) from None
                reason = {
                    "refused": "connection refused",
                    "ssl": "SSL certificate error",
                    "unreachable": "host unreachable",
                    "reset": "connection reset",
                    "protocol": "invalid HTTP response",
                }.get(kind, "connection failed")
                raise OutboundError(f"{label} is unreachable: {reason}", permanent=False) from None
            try:
                status = response.raw.status
                if method == "HEAD" and status in (405, 501):
                    method = "GET"
                    continue
                next_target = _next_hop(response, target, label, policy)
                if next_target is not None:
                    redirects += 1
                    if redirects > MAX_REDIRECTS:
                        raise OutboundError(f"{label} is unreachable: too many redirects")
                    target = next_target
                    continue
                if not 200 <= status < 300:
                    raise OutboundError(
                        f"{label} returned HTTP {status}", permanent=status < 500 and status not in (408, 429),
                        status_code=status,
                    )
                return PreflightResult(
                    status_code=status,
                    content_type=response.raw.headers.get("Content-Type"),
                    content_length=_content_length(response.raw.headers),
                    final_url=target.url,
                )
            finally:
                response.close()  # never read a GET body


def _content_length(headers) -> int | None:
    raw = headers.get("Content-Length")
    if raw is None:
        return None
    try:
        value = int(raw.split(",")[0].strip())
    except ValueError:
        return None
    return value if value >= 0 else None


# --------------------------------------------------------------------------- download


def download(
    url: str,
    fileobj,
    *,
    max_bytes: int,
    on_progress: Callable[[int], None] | None = None,
    connect_timeout: float = 10.0,
    first_byte_timeout: float = 30.0,
    label: str = "Input URL",
    limit_label: str | None = None,
    stop_at: float | None = None,
    keep_going: Callable[[], bool] | None = None,
    tick: float = 1.0,
) -> DownloadResult:
    """GET ``url`` into ``fileobj`` in 64 KiB chunks (never the whole body in memory).

    At most 2 redirects, each resolved, checked and pinned again. The response
    headers must arrive within ``connect_timeout + first_byte_timeout`` and no
    read may stall longer than ``first_byte_timeout``. ``on_progress(bytes_so_far)``
    is called after every chunk is written; whatever it raises propagates.

    Raises OutboundError:
    "Invalid input: URL returned HTTP {status}" (INPUT_FETCH_FAILED, status_code set),
    "Timeout after {first_byte_timeout}s", "Too many redirects",
    "Input exceeds the {limit} limit" (INPUT_TOO_LARGE; ``limit_label`` or
    ``max_bytes`` formatted as e.g. "500 MB"),
    "Invalid input: connection refused" / "SSL certificate error" /
    "host unreachable" / "connection reset" / "connection failed" /
    "connection closed before the body was complete" (permanent=False),
    and the check_url messages (INVALID_URL).

    ``stop_at`` (time.monotonic()) and ``keep_going()``: a watchdog thread
    that does not depend on data arriving ends the download when ``stop_at``
    passes or ``keep_going()`` (called about every ``tick`` seconds, from that
    thread) returns False, by shutting the socket down: a server that trickles
    a byte at a time or stalls after the headers cannot hold the caller past
    it. The download then fails with the timeout OutboundError; the caller
    knows which of its limits it was.
    """
    policy = _policy()
    limit = limit_label or _format_size(max_bytes)
    too_large = OutboundError(f"Input exceeds the {limit} limit", code=CODE_INPUT_TOO_LARGE)
    timeout_message = f"Timeout after {_fmt_seconds(first_byte_timeout)}s"
    target = _target(url, label, policy)

    def transport_error(exc, deadline=None) -> OutboundError:
        kind = _classify(exc, deadline)
        if kind in ("timeout", "connect_timeout"):
            return OutboundError(timeout_message, code=CODE_FETCH_FAILED, permanent=False)
        reason = {
            "refused": "connection refused",
            "ssl": "SSL certificate error",
            "unreachable": "host unreachable",
            "reset": "connection reset",
            "protocol": "connection closed before the body was complete",
        }.get(kind, "connection failed")
        return OutboundError(f"Invalid input: {reason}", code=CODE_FETCH_FAILED, permanent=False)

    watchdog = _Watchdog(stop_at, keep_going, tick) if (stop_at is not None or keep_going is not None) else None
    try:
        return _download_body(target, fileobj, max_bytes=max_bytes, on_progress=on_progress,
                              connect_timeout=connect_timeout, first_byte_timeout=first_byte_timeout,
                              label=label, policy=policy, too_large=too_large, transport_error=transport_error,
                              watchdog=watchdog)
    except _TRANSPORT_ERRORS as exc:  # the watchdog cut a read that the loop did not wrap
        raise transport_error(exc) from None
    finally:
        if watchdog is not None:
            watchdog.stop()


logger = logging.getLogger(__name__)


class _Watchdog:
    """Shuts down the registered connection's socket when `stop_at` passes or
    `keep_going()` says no (see download). Runs in its own daemon thread."""

    def __init__(self, stop_at: float | None, keep_going, tick: float):
        self.stop_at = stop_at
        self.keep_going = keep_going
        self.tick = max(0.05, tick)
        self.fired = False
        self._conn = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="download-watchdog", daemon=True)
        self._thread.start()

    def remaining(self) -> float | None:
        return None if self.stop_at is None else max(0.001, self.stop_at - time.monotonic())

    def register(self, conn) -> None:
        with self._lock:
            self._conn = conn
            fired = self.fired
        if fired:
            self._cut(conn)

    def _run(self) -> None:
        try:
            while True:
                wait = self.tick if self.stop_at is None else min(self.tick, max(0.0, self.stop_at - time.monotonic()))
                if self._done.wait(wait):
                    return
                if self.stop_at is not None and time.monotonic() >= self.stop_at:
                    break
                if self.keep_going is not None and not self._check():
                    break
            with self._lock:
                self.fired = True
                conn = self._conn
            self._cut(conn)
        finally:
            _close_thread_connections()

    def _check(self) -> bool:
        try:
            return bool(self.keep_going())
        except Exception:  # noqa: BLE001 - a failing check must not end the watch (the deadline still holds)
            logger.exception("download watchdog: keep_going failed")
            return True

    @staticmethod
    def _cut(conn) -> None:
        sock = getattr(conn, "raw_socket", None) if conn is not None else None
        if sock is not None:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)


def _close_thread_connections() -> None:
    """The watchdog's `keep_going` may have used the database: close this thread's connections."""
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # noqa: BLE001 - nothing to close, or Django not configured
        pass


def _download_body(target, fileobj, *, max_bytes, on_progress, connect_timeout, first_byte_timeout, label, policy,
                   too_large, transport_error, watchdog) -> DownloadResult:
    redirects = 0
    while True:
        read_timeout = first_byte_timeout
        if watchdog is not None and watchdog.remaining() is not None:
            read_timeout = min(read_timeout, watchdog.remaining())
        timeout = Timeout(connect=connect_timeout, read=read_timeout)
        with _Deadline(connect_timeout + read_timeout) as deadline:
            try:
                response = _open("GET", target, timeout=timeout, deadline=deadline)
            except _TRANSPORT_ERRORS as exc:
                raise transport_error(exc, deadline) from None
        # Headers are in: from here on the per-read timeout applies, and the watchdog.
        stopped = OutboundError(f"Timeout after {_fmt_seconds(first_byte_timeout)}s", code=CODE_FETCH_FAILED,
                                permanent=False)
        if watchdog is not None:
            watchdog.register(deadline.connection())
            if watchdog.fired:
                response.close()
                raise stopped
        try:
            status = response.raw.status
            next_target = _next_hop(response, target, label, policy)
            if next_target is not None:
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise OutboundError("Too many redirects", code=CODE_FETCH_FAILED)
                target = next_target
                continue
            if not 200 <= status < 300:
                raise OutboundError(
                    f"Invalid input: URL returned HTTP {status}",
                    code=CODE_FETCH_FAILED,
                    permanent=status < 500 and status not in (408, 429),
                    status_code=status,
                )
            length = _content_length(response.raw.headers)
            if length is not None and length > max_bytes:
                raise too_large
            total = 0
            while True:
                # Never read more than one byte past the limit.
                want = min(CHUNK_SIZE, max_bytes - total + 1)
                try:
                    chunk = response.raw.read(want, decode_content=False)
                except _TRANSPORT_ERRORS as exc:
                    if watchdog is not None and watchdog.fired:
                        raise stopped from None
                    raise transport_error(exc) from None
                if watchdog is not None and watchdog.fired:
                    raise stopped  # a cut socket reads as an early EOF
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise too_large
                fileobj.write(chunk)
                if on_progress is not None:
                    on_progress(total)
            return DownloadResult(
                content_type=response.raw.headers.get("Content-Type"),
                size_bytes=total,
                final_url=target.url,
            )
        finally:
            response.close()


# --------------------------------------------------------------------------- webhook POST


def post(
    url: str,
    body: bytes,
    headers: dict,
    *,
    timeout: float = 10.0,
    max_response_bytes: int = 1024,
    label: str = "Webhook URL",
) -> PostResult:
    """POST ``body`` to ``url`` once (webhook delivery). Redirects are not followed.

    The whole exchange (connect, send, response headers, body prefix) is bound
    by ``timeout`` seconds. Any HTTP answer, 3xx/4xx/5xx included, is returned
    as a PostResult; only ``max_response_bytes`` of its body are read, then the
    connection is closed.

    Raises OutboundError(code DELIVERY_FAILED, permanent=False):
    "Connection refused", "Connection timeout", "Response timeout",
    "SSL certificate error", "Could not resolve host", "Host unreachable",
    "Connection reset", "Invalid HTTP response", "Connection failed";
    and (code INVALID_URL, permanent=True) "{label} must use HTTPS",
    "{label} is not a valid URL", "{label} resolves to a private address".
    """
    started = time.monotonic()
    policy = _policy()
    try:
        target = _target(url, label, policy)
    except _ResolutionError:
        raise OutboundError("Could not resolve host", code=CODE_DELIVERY_FAILED, permanent=False) from None
        raise
    with _Deadline(timeout) as deadline:
        remaining = deadline.remaining()
        try:
            response = _open(
                "POST",
                target,
                timeout=Timeout(connect=remaining, read=remaining),
                deadline=deadline,
                headers=headers,
                body=body,
            )
        except _TRANSPORT_ERRORS as exc:
            kind = _classify(exc, deadline)
            message = {
                "timeout": "Response timeout",
                "connect_timeout": "Connection timeout",
                "refused": "Connection refused",
                "ssl": "SSL certificate error",
                "unreachable": "Host unreachable",
                "reset": "Connection reset",
                "protocol": "Invalid HTTP response",
            }.get(kind, "Connection failed")
            raise OutboundError(message, code=CODE_DELIVERY_FAILED, permanent=False) from None
        try:
            # read1 returns what has arrived, so a receiver that stalls or is
            # cut off by the deadline still leaves the bytes it did send.
            prefix = bytearray()
            while len(prefix) < max_response_bytes:
                try:
                    chunk = response.raw.read1(max_response_bytes - len(prefix), decode_content=False)
                except _TRANSPORT_ERRORS:
                    break  # the status line and headers are the answer; the body is only logged
                if not chunk:
                    break
                prefix += chunk
            return PostResult(
                status_code=response.raw.status,
                headers=response.raw.headers.copy(),
                body_prefix=bytes(prefix[:max_response_bytes]),
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        finally:
            response.close()
