"""preflight: is the input there, asked of a real local server before a job is accepted."""

from __future__ import annotations

import io
import time

import pytest

from core import outbound
from core.outbound import Kind, OutboundError, download, preflight
from tests.httpservers import HANG, Response, closed_port, iter_chunks, redirect, serve

KB = 1024
MB = 1024 * 1024


def test_preflight_answers_with_the_servers_facts(insecure):
    with serve({"/a.mp4": (200, {"Content-Type": "video/mp4"}, b"x" * 1234)}) as srv:
        result = preflight(srv.url + "/a.mp4")
    assert result == outbound.PreflightResult(200, "video/mp4", 1234, srv.url + "/a.mp4")
    [request] = srv.requests
    assert request.method == "HEAD"
    assert request.headers["User-Agent"] == "AIPROD/33"
    assert request.headers["Cookie"] is None


def test_preflight_reports_the_http_status(insecure):
    with serve() as srv:
        with pytest.raises(OutboundError) as exc:
            preflight(srv.url + "/missing.mp4")
    assert exc.value.message == "Input URL returned HTTP 404"
    assert exc.value.status_code == 404 and exc.value.code == "INVALID_URL"
    assert exc.value.kind == Kind.HTTP_STATUS


def test_preflight_reports_a_refused_connection(insecure):
    with closed_port() as port:
        with pytest.raises(OutboundError) as exc:
            preflight(f"http://127.0.0.1:{port}/a.mp4")
    assert exc.value.message == "Input URL is unreachable: connection refused"
    assert exc.value.kind == Kind.REFUSED and not exc.value.permanent


def test_preflight_times_out_with_the_configured_value(insecure):
    with serve({"/a.mp4": Response(delay=HANG)}) as srv:
        started = time.monotonic()
        with pytest.raises(OutboundError) as exc:
            preflight(srv.url + "/a.mp4", timeout=0.5)
        elapsed = time.monotonic() - started
    assert exc.value.message == "Input URL is unreachable: connection timeout after 0.5s"
    assert exc.value.kind == Kind.TIMEOUT
    assert elapsed < 2


def test_preflight_timeout_bounds_a_server_dripping_its_headers(insecure):
    def drip(handler, request):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        while not handler.server.owner.stopping.wait(0.1):
            handler.wfile.write(b"X-Drip: 1\r\n")
            handler.wfile.flush()

    with serve({"/a.mp4": Response(raw=drip)}) as srv:
        started = time.monotonic()
        with pytest.raises(OutboundError, match="connection timeout after 0.5s$"):
            preflight(srv.url + "/a.mp4", timeout=0.5)
        assert time.monotonic() - started < 2


def test_preflight_falls_back_to_get_when_head_is_not_allowed(insecure):
    routes = {
        "HEAD /a.mp4": 405,
        "/a.mp4": Response(headers={"Content-Type": "video/mp4"}, body=iter_chunks(b"x" * 64 * KB, 160), content_length=10 * MB),
    }
    with serve(routes) as srv:
        started = time.monotonic()
        result = preflight(srv.url + "/a.mp4")
        assert time.monotonic() - started < 2
    assert (result.status_code, result.content_type, result.content_length) == (200, "video/mp4", 10 * MB)
    assert [r.method for r in srv.requests] == ["HEAD", "GET"]


def test_preflight_follows_two_redirects_but_not_three(insecure):
    with serve({"/1": redirect("/2"), "/2": redirect("/3"), "/3": redirect("/4"), "/4": 200}) as srv:
        assert preflight(srv.url + "/2").final_url == srv.url + "/4"
        with pytest.raises(OutboundError, match="^Input URL is unreachable: too many redirects$"):
            preflight(srv.url + "/1")


@pytest.mark.parametrize("location", ["http://[::1", "https://[not-an-address]/x"])
def test_a_redirect_to_an_unparseable_location_is_an_invalid_url_not_a_crash(insecure, location):
    with serve({"/a.mp4": redirect(location)}) as srv:
        with pytest.raises(OutboundError, match="^Input URL (redirected to an invalid URL|is not a valid URL)$") as exc:
            preflight(srv.url + "/a.mp4")
        assert exc.value.code == "INVALID_URL" and exc.value.permanent
        assert exc.value.kind == Kind.INVALID_URL
        with pytest.raises(OutboundError, match="^Input URL (redirected to an invalid URL|is not a valid URL)$"):
            download(srv.url + "/a.mp4", io.BytesIO(), max_bytes=MB)
