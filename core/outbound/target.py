"""From a URL to a checked target: parse, resolve once, check every address.

DNS is resolved ONCE per hop and the connection is later made to exactly the
addresses checked here ("pinning", see connection.py), so a DNS-rebinding
host cannot pass the check and then connect elsewhere. Every redirect hop
goes through here again (``next_hop``).
"""

from __future__ import annotations

import base64
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

from .errors import CODE_INVALID_URL, Kind, OutboundError
from .policy import Policy, addresses_for_hint, current_policy, is_public_address, local_hint

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str  # ASCII hostname or IP literal without brackets
    port: int
    request_target: str  # path + query, as sent on the request line
    addresses: tuple  # ((family, sockaddr), ...) resolved and checked: connect only to these
    authorization: str | None  # Basic credentials from the URL's userinfo, this hop only


class ResolutionError(OutboundError):
    """DNS gave no answer (possibly transient)."""


def requote(value: str) -> str:
    try:
        from requests.utils import requote_uri

        return requote_uri(value)
    except ImportError:  # pragma: no cover
        from urllib.parse import quote

        return quote(value, safe="!#$%&'()*+,/:;=?@[]~")


def _parse(url: str, label: str, policy: Policy):
    invalid = OutboundError(f"{label} is not a valid URL", kind=Kind.INVALID_URL, code=CODE_INVALID_URL)
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
            raise OutboundError(f"{label} must use HTTPS", kind=Kind.BLOCKED, code=CODE_INVALID_URL)
        raise invalid
    if scheme == "http" and not policy.allow_http:
        hint = local_hint(parts.hostname) or local_hint(parts.hostname, addresses_for_hint(parts.hostname))
        raise OutboundError(f"{label} must use HTTPS{hint}", kind=Kind.BLOCKED, code=CODE_INVALID_URL)
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
    request_target = requote(parts.path or "/")
    if parts.query:
        request_target += "?" + requote(parts.query)
    authorization = None
    if parts.username is not None:
        creds = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(creds.encode("utf-8")).decode("ascii")
    return scheme, host, port, request_target, authorization


def _resolve(host: str, port: int, label: str) -> tuple:
    unresolved = ResolutionError(f"{label} host could not be resolved", kind=Kind.DNS, permanent=False)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        raise unresolved from None
    seen, addresses = set(), []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        key = (family, sockaddr[0])
        if key not in seen:
            seen.add(key)
            addresses.append((family, sockaddr))
    if not addresses:
        raise unresolved
    return tuple(addresses)


def _check_addresses(addresses, label: str, policy: Policy, host: str | None = None) -> None:
    if not policy.check_addresses:
        return
    for _family, sockaddr in addresses:
        try:
            ok = is_public_address(sockaddr[0], policy.allowed_networks)
        except ValueError:
            ok = False
        if not ok:
            hint = local_hint(host, [address[0] for _f, address in addresses])
            raise OutboundError(f"{label} resolves to a private address{hint}", kind=Kind.BLOCKED,
                                code=CODE_INVALID_URL)


def resolve_target(url: str, label: str, policy: Policy | None = None) -> Target:
    """The parsed, resolved and checked target of ``url`` (raises OutboundError)."""
    policy = policy or current_policy()
    scheme, host, port, request_target, authorization = _parse(url, label, policy)
    addresses = _resolve(host, port, label)
    _check_addresses(addresses, label, policy, host)
    return Target(url, scheme, host, port, request_target, addresses, authorization)


def check_url(url: str, *, label: str = "Input URL") -> None:
    """Syntax, scheme and resolved-address check, without connecting.

    Raises OutboundError(code INVALID_URL): "{label} is not a valid URL"
    (kind invalid_url), "{label} must use HTTPS" (blocked),
    "{label} host could not be resolved" (dns, permanent=False),
    "{label} resolves to a private address" (blocked).
    """
    resolve_target(url, label)


def next_hop(status: int, headers, current: Target, label: str, policy: Policy) -> Target | None:
    """The checked target of a redirect, or None when the response is not one."""
    if status not in REDIRECT_STATUSES:
        return None
    location = headers.get("Location")
    if not location:
        return None
    try:
        next_url = urljoin(current.url, requote(location.strip()))
    except ValueError:  # e.g. "http://[::1" (an unclosed IPv6 literal)
        raise OutboundError(f"{label} redirected to an invalid URL", kind=Kind.INVALID_URL) from None
    return resolve_target(next_url, label, policy)
