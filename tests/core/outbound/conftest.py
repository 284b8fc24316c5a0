"""Shared fixtures for the core.outbound tests: the policy settings, a
controllable resolver, a self-signed certificate.

Nothing of ours is mocked. Where a test needs DNS answers that no real name
gives (a rebinding host, an unresolvable name), ``fake_dns`` replaces
``socket.getaddrinfo``, the resolver the package calls.
"""

from __future__ import annotations

import socket

import pytest

from tests.certificates import TLS_UNAVAILABLE_REASON, self_signed_cert

@pytest.fixture
def secure(settings):
    """Production rules: HTTPS only, public addresses only."""
    settings.AIPROD_ALLOW_INSECURE_URLS = False
    settings.AIPROD_OUTBOUND_ALLOW_HTTP = False
    settings.AIPROD_OUTBOUND_ALLOWED_NETWORKS = []
    settings.AIPROD_OUTBOUND_CA_BUNDLE = None
    return settings


@pytest.fixture
def only_127_0_0_2_allowed(secure):
    """The real address guard, with plain http and one loopback address let through."""
    secure.AIPROD_OUTBOUND_ALLOW_HTTP = True
    secure.AIPROD_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    return secure


@pytest.fixture
def insecure(settings):
    """Local development: any scheme, any address."""
    settings.AIPROD_ALLOW_INSECURE_URLS = True
    settings.AIPROD_OUTBOUND_ALLOW_HTTP = True
    settings.AIPROD_OUTBOUND_ALLOWED_NETWORKS = []
    settings.AIPROD_OUTBOUND_CA_BUNDLE = None
    return settings


@pytest.fixture
def fake_dns(monkeypatch):
    """Answer chosen hostnames with chosen addresses; a list of answers is used in turn
    (the last one repeats), which is how a rebinding DNS server behaves."""
    real_getaddrinfo = socket.getaddrinfo
    answers: dict[str, list[list[str]]] = {}
    calls: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            calls.append(host)
            queue = answers[host]
            addresses = queue.pop(0) if len(queue) > 1 else queue[0]
            if not addresses:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            result = []
            for address in addresses:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
                result.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
            return result
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def add(host: str, *rounds: list[str]):
        answers[host] = [list(r) for r in rounds]

    add.calls = calls
    return add


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    pair = self_signed_cert(tmp_path_factory.mktemp("tls"), hostnames=("localhost",), ips=())
    if pair is None:
        pytest.skip(TLS_UNAVAILABLE_REASON)
    return pair
