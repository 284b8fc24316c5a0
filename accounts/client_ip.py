"""The client's address, trusted-proxy aware (docs/authentication.md).

REMOTE_ADDR is the truth unless it is one of AIPROD_TRUSTED_PROXIES; only then
is X-Forwarded-For read, right to left, skipping trusted hops, and the first
untrusted hop is the client. A client cannot spoof its way in by sending its
own X-Forwarded-For: without a trusted proxy in front, the header is ignored.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def _parse(value: str):
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address) -> bool:
    return any(address in network for network in settings.AIPROD_TRUSTED_PROXIES)


def client_ip(request) -> str | None:
    request = getattr(request, "_request", request)
    cached = getattr(request, "aiprod_client_ip", None)
    if cached:
        return cached
    remote = _parse(request.META.get("REMOTE_ADDR", ""))
    address = remote
    if remote is not None and _trusted(remote):
        hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        for hop in reversed(hops):
            parsed = _parse(hop)
            if parsed is None:
                break  # garbage: stop at the last hop we could trust
            address = parsed
            if not _trusted(parsed):
                break
    if address is not None and getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    request.aiprod_client_ip = str(address) if address is not None else None
    return request.aiprod_client_ip


def parse_network(value: str):
    """A bare address means /32 or /128. Raises ValueError."""
    value = value.strip()
    if not value:
        raise ValueError("empty")
    return ipaddress.ip_network(value, strict=False)


def address_in(address: str | None, cidrs) -> bool:
    if not address:
        return False
    parsed = ipaddress.ip_address(address)
    for cidr in cidrs:
        network = ipaddress.ip_network(cidr, strict=False)
        if parsed.version == network.version and parsed in network:
            return True
    return False
