"""Which targets an outbound request may reach: the settings and the address rules.

Unless insecure mode is on, only ``https://`` URLs are accepted, and a host
is refused when ANY of its resolved addresses is not public (loopback,
private, link-local / cloud metadata, CGNAT, multicast, unspecified,
reserved, benchmarking, documentation, 6to4 and Teredo, and the IPv4 address
embedded in IPv4-mapped, IPv4-compatible and NAT64 IPv6 addresses): a
customer-chosen URL must never reach this server's own network.

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
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

_UNSET = object()


def setting(name: str, default):
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


def parse_networks(value) -> list:
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
class Policy:
    check_addresses: bool
    allow_http: bool
    allowed_networks: tuple


def current_policy() -> Policy:
    insecure = bool(setting("AIPROD_ALLOW_INSECURE_URLS", False))
    allow_http = bool(setting("AIPROD_OUTBOUND_ALLOW_HTTP", insecure))
    networks = tuple(parse_networks(setting("AIPROD_OUTBOUND_ALLOWED_NETWORKS", [])))
    return Policy(check_addresses=not insecure, allow_http=allow_http, allowed_networks=networks)


def ca_bundle() -> str | None:
    path = setting("AIPROD_OUTBOUND_CA_BUNDLE", None)
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


# --------------------------------------------------------------------------- the development hint

_LOCAL_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7",
))
LOCAL_DEVELOPMENT_HINT = "; for local development set AIPROD_ALLOW_INSECURE_URLS=1 on the server"


def local_hint(host: str | None, addresses=()) -> str:
    """The hint for a URL refused because insecure URLs are off, when its host
    is this machine or a private network (a developer's own file server), not
    for public names nor link-local/metadata addresses. ``addresses``: what a
    host name resolved to; a name whose every address is loopback/private
    (a LAN file server, the machine's own name) gets the hint too; one mixing
    public and private addresses does not (that is not a development setup)."""
    host = (host or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost") or is_local_address(host):
        return LOCAL_DEVELOPMENT_HINT
    if addresses and all(is_local_address(address) for address in addresses):
        return LOCAL_DEVELOPMENT_HINT
    return ""


def is_local_address(value: str) -> bool:
    try:
        addr = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in net for net in _LOCAL_NETWORKS if net.version == addr.version)


def addresses_for_hint(host: str | None) -> tuple[str, ...]:
    """Best-effort resolution of a refused http:// URL's host name, only to
    choose the message (nothing connects): () when it does not resolve."""
    if not host or is_local_address(host):
        return ()
    try:
        infos = socket.getaddrinfo(host.encode("idna").decode("ascii"), 80, type=socket.SOCK_STREAM,
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError, OSError):
        return ()
    return tuple(sockaddr[0] for family, _t, _p, _c, sockaddr in infos if family in (socket.AF_INET, socket.AF_INET6))

