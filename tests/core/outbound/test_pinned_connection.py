"""The pinned transport: the connection goes to the address that was checked,
while the Host header, SNI and certificate check use the hostname."""

from __future__ import annotations

import io

import pytest

from core.outbound import OutboundError, download, post, preflight
from tests.httpservers import redirect, serve

MB = 1024 * 1024


def test_the_connection_goes_to_the_checked_address_not_a_rebound_one(only_127_0_0_2_allowed, fake_dns):
    # rebind.example answers 127.0.0.2 (allowed) once, then 127.0.0.1 (refused).
    # A client that checked one lookup and connected after another would reach
    # the internal server; a pinned one reaches the checked address only.
    with serve({"/a.mp4": (200, {"Content-Type": "video/mp4"}, b"public")}, host="127.0.0.2") as public:
        with serve({"/a.mp4": (200, {}, b"internal")}, host="127.0.0.1", port=public.port) as internal:
            fake_dns("rebind.example", ["127.0.0.2"], ["127.0.0.1"])
            sink = io.BytesIO()
            download(f"http://rebind.example:{public.port}/a.mp4", sink, max_bytes=MB)

    assert sink.getvalue() == b"public"
    assert fake_dns.calls == ["rebind.example"]  # resolved once
    assert internal.requests == []
    [request] = public.requests
    assert request.server_address == ("127.0.0.2", public.port)
    assert request.headers["Host"] == f"rebind.example:{public.port}"  # the hostname, not the pinned IP


def test_every_redirect_hop_is_resolved_and_pinned_again(only_127_0_0_2_allowed, fake_dns):
    with serve(host="127.0.0.2") as srv:
        srv.routes["/start"] = redirect(f"http://hop.example:{srv.port}/end")
        srv.routes["/end"] = (200, {}, b"ok")
        fake_dns("hop.example", ["127.0.0.2"], ["127.0.0.1"])
        result = preflight(f"http://127.0.0.2:{srv.port}/start")
    assert result.final_url == f"http://hop.example:{srv.port}/end"
    assert fake_dns.calls == ["hop.example"]
    assert srv.requests[-1].headers["Host"] == f"hop.example:{srv.port}"


def test_ipv6_hosts_are_reached_on_their_address(insecure):
    with serve({"/a.mp4": (200, {"Content-Type": "video/mp4"}, b"v6")}, host="::1") as srv:
        assert srv.url.startswith("http://[::1]:")
        assert preflight(srv.url + "/a.mp4").status_code == 200
        assert post(srv.url + "/a.mp4", b"{}", {}).body_prefix == b"v6"
    assert srv.requests[0].headers["Host"] == f"[::1]:{srv.port}"


def test_https_verifies_the_hostname_while_connecting_to_the_pinned_address(insecure, tls_cert):
    # The certificate names "localhost" only. Trusted, it passes for
    # https://localhost (SNI and verification use the hostname although the
    # socket goes to the resolved IP) and fails for https://127.0.0.1.
    insecure.AIPROD_OUTBOUND_CA_BUNDLE = tls_cert[0]
    with serve({"/hook": (200, {}, b"ok"), "/a.mp4": (200, {"Content-Type": "video/mp4"}, b"v")}, tls=tls_cert) as srv:
        assert post(srv.url_for("/hook", host="localhost"), b"{}", {}).status_code == 200
        assert preflight(srv.url_for("/a.mp4", host="localhost")).content_type == "video/mp4"
        with pytest.raises(OutboundError, match="^SSL certificate error$"):
            post(srv.url_for("/hook", host="127.0.0.1"), b"{}", {})
        with pytest.raises(OutboundError, match="^Input URL is unreachable: SSL certificate error$"):
            preflight(srv.url_for("/a.mp4", host="127.0.0.1"))
    assert [r.headers["Host"] for r in srv.requests] == [f"localhost:{srv.port}"] * 2
