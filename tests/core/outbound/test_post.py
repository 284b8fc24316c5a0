"""post: one webhook delivery to a real local receiver."""

from __future__ import annotations

import time

import pytest

from core.outbound import Kind, OutboundError, post
from tests.httpservers import HANG, Response, closed_port, iter_chunks, redirect, serve

KB = 1024
MB = 1024 * 1024


def test_post_delivers_the_body_and_returns_the_answer(insecure):
    body = b'{"id": "evt_1", "event": "job.completed"}'
    headers = {"Content-Type": "application/json", "X-AIPROD-Event": "job.completed"}
    with serve({"/hook": (200, {"X-Receiver": "yes"}, b"thanks")}) as srv:
        result = post(srv.url + "/hook", body, headers)
    assert result.status_code == 200
    assert result.headers["x-receiver"] == "yes"  # case-insensitive
    assert result.body_prefix == b"thanks"
    assert 0 <= result.duration_ms < 5000
    [request] = srv.requests
    assert (request.method, request.body) == ("POST", body)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-AIPROD-Event"] == "job.completed"
    assert request.headers["User-Agent"] == "AIPROD/33"


def test_post_returns_a_server_error_as_a_result(insecure):
    with serve({"/hook": (500, {}, b"boom")}) as srv:
        result = post(srv.url + "/hook", b"{}", {})
    assert (result.status_code, result.body_prefix) == (500, b"boom")


def test_post_does_not_follow_redirects(insecure):
    with serve({"/hook": redirect("/elsewhere", 307), "/elsewhere": 200}) as srv:
        result = post(srv.url + "/hook", b"{}", {})
    assert result.status_code == 307
    assert [r.path for r in srv.requests] == ["/hook"]


def test_post_reports_a_response_timeout(insecure):
    with serve({"/hook": Response(delay=HANG)}) as srv:
        started = time.monotonic()
        with pytest.raises(OutboundError) as exc:
            post(srv.url + "/hook", b"{}", {}, timeout=0.5)
        assert time.monotonic() - started < 2
    assert exc.value.message == "Response timeout"
    assert exc.value.kind == Kind.TIMEOUT and not exc.value.permanent


def test_post_timeout_bounds_a_receiver_dripping_its_body(insecure):
    def drip(handler, request):
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while not handler.server.owner.stopping.wait(0.1):
            handler.wfile.write(b"1\r\nx\r\n")
            handler.wfile.flush()

    with serve({"/hook": Response(raw=drip)}) as srv:
        started = time.monotonic()
        result = post(srv.url + "/hook", b"{}", {}, timeout=0.5)
        assert time.monotonic() - started < 2
    # The answer (200) arrived in time; the body is what came before the deadline.
    assert result.status_code == 200
    assert 0 < len(result.body_prefix) < 1024 and set(result.body_prefix) == {ord("x")}


def test_post_reports_a_refused_connection(insecure):
    with closed_port() as port:
        with pytest.raises(OutboundError) as exc:
            post(f"http://127.0.0.1:{port}/hook", b"{}", {})
    assert exc.value.message == "Connection refused"
    assert exc.value.kind == Kind.REFUSED and not exc.value.permanent


def test_post_reports_an_unresolvable_host(insecure, fake_dns):
    fake_dns("gone.example", [])
    with pytest.raises(OutboundError) as exc:
        post("http://gone.example/hook", b"{}", {})
    assert exc.value.message == "Could not resolve host"
    assert exc.value.kind == Kind.DNS and not exc.value.permanent


def test_post_reads_only_the_first_kilobyte_of_a_large_answer(insecure):
    total = 16 * MB
    with serve({"/hook": Response(body=iter_chunks(b"y" * 64 * KB, total // (64 * KB)), content_length=total)}) as srv:
        result = post(srv.url + "/hook", b"{}", {}, max_response_bytes=1024)
        [request] = srv.wait_for_requests(1)
        deadline = time.monotonic() + 5
        while request.write_error is None and request.bytes_sent < total and time.monotonic() < deadline:
            time.sleep(0.05)
    assert result.body_prefix == b"y" * 1024
    # The client hung up: the server could not send the rest.
    assert request.write_error is not None and request.bytes_sent < total


def test_post_reports_a_certificate_the_client_cannot_trust(insecure, tls_cert):
    with serve({"/hook": 200}, tls=tls_cert) as srv:
        with pytest.raises(OutboundError) as exc:
            post(srv.url_for("/hook", host="localhost"), b"{}", {})
        assert srv.requests == []
    assert exc.value.message == "SSL certificate error"
    assert exc.value.kind == Kind.TLS and not exc.value.permanent
