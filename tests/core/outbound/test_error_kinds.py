"""Every OutboundError.kind comes from a real situation, whichever client meets it.

Callers branch on ``kind`` (a timeout fails a job as TIMEOUT, a slow webhook
receiver is backed off), so each kind is produced here by a real local
server, a closed port, a real certificate, a real address rule; only DNS
answers come from ``fake_dns``, as no real name is guaranteed not to resolve.
"""

from __future__ import annotations

import io

import pytest

from core import outbound
from core.outbound import Kind, OutboundError, check_url, download, post, preflight
from tests.httpservers import HANG, Response, closed_port, iter_chunks, redirect, serve

KB = 1024
MB = 1024 * 1024


def kind_of(call, *args, **kwargs) -> Kind:
    with pytest.raises(OutboundError) as exc:
        call(*args, **kwargs)
    return exc.value.kind


def test_kind_is_a_string_callers_can_compare_and_log():
    assert Kind.TIMEOUT == "timeout" and str(Kind.TOO_LARGE) == "too_large"
    assert outbound.Kind is Kind  # callers write outbound.Kind.TIMEOUT
    assert "kind='dns'" in repr(OutboundError("x", kind="dns"))


def test_a_server_that_never_answers_is_a_timeout_for_every_client(insecure):
    with serve({"/a": Response(delay=HANG)}) as srv:
        assert kind_of(preflight, srv.url + "/a", timeout=0.3) == Kind.TIMEOUT
        assert kind_of(download, srv.url + "/a", io.BytesIO(), max_bytes=MB, first_byte_timeout=0.3) == Kind.TIMEOUT
        assert kind_of(post, srv.url + "/a", b"{}", {}, timeout=0.3) == Kind.TIMEOUT


def test_a_download_its_caller_stops_is_a_timeout(insecure):
    # The job's own deadline or a lost heartbeat: the watchdog cuts a body that stalls.
    stalled = Response(body=iter_chunks(b"x" * 64 * KB, 4), content_length=256 * KB, stall_after=64 * KB)
    with serve({"/a": stalled}) as srv:
        error = kind_of(download, srv.url + "/a", io.BytesIO(), max_bytes=MB, first_byte_timeout=30,
                        keep_going=lambda: False, tick=0.05)
    assert error == Kind.TIMEOUT


def test_a_closed_port_is_refused_for_every_client(insecure):
    with closed_port() as port:
        url = f"http://127.0.0.1:{port}/a"
        assert kind_of(preflight, url) == Kind.REFUSED
        assert kind_of(download, url, io.BytesIO(), max_bytes=MB) == Kind.REFUSED
        assert kind_of(post, url, b"{}", {}) == Kind.REFUSED


def test_a_private_address_or_plain_http_is_blocked_before_connecting(secure):
    with serve({"/a": 200}) as srv:
        private = f"https://127.0.0.1:{srv.port}/a"
        assert kind_of(check_url, private) == Kind.BLOCKED
        assert kind_of(preflight, private) == Kind.BLOCKED
        assert kind_of(download, private, io.BytesIO(), max_bytes=MB) == Kind.BLOCKED
        assert kind_of(post, private, b"{}", {}) == Kind.BLOCKED
        assert kind_of(check_url, "http://example.com/a") == Kind.BLOCKED
        assert srv.requests == []


def test_a_name_that_does_not_resolve_is_dns_for_every_client(insecure, fake_dns):
    fake_dns("gone.example", [])
    url = "http://gone.example/a"
    assert kind_of(check_url, url) == Kind.DNS
    assert kind_of(preflight, url) == Kind.DNS
    assert kind_of(download, url, io.BytesIO(), max_bytes=MB) == Kind.DNS
    assert kind_of(post, url, b"{}", {}) == Kind.DNS


def test_a_certificate_the_client_cannot_trust_is_tls_for_every_client(insecure, tls_cert):
    with serve({"/a": 200}, tls=tls_cert) as srv:
        url = srv.url_for("/a", host="localhost")
        assert kind_of(preflight, url) == Kind.TLS
        assert kind_of(download, url, io.BytesIO(), max_bytes=MB) == Kind.TLS
        assert kind_of(post, url, b"{}", {}) == Kind.TLS
        assert srv.requests == []


def test_a_body_over_the_limit_is_too_large_announced_or_not(insecure):
    routes = {
        "/announced": Response(body=iter_chunks(b"x" * 64 * KB, 4), content_length=256 * KB),
        "/chunked": Response(body=iter_chunks(b"x" * 64 * KB, 4), chunked=True),
    }
    with serve(routes) as srv:
        assert kind_of(download, srv.url + "/announced", io.BytesIO(), max_bytes=100 * KB) == Kind.TOO_LARGE
        assert kind_of(download, srv.url + "/chunked", io.BytesIO(), max_bytes=100 * KB) == Kind.TOO_LARGE


def test_a_server_error_is_http_status_with_the_status_and_retryable(insecure):
    with serve({"/a": 500}) as srv:
        for call, args in ((preflight, ()), (download, (io.BytesIO(),))):
            with pytest.raises(OutboundError) as exc:
                call(srv.url + "/a", *args, **({"max_bytes": MB} if call is download else {}))
            assert (exc.value.kind, exc.value.status_code, exc.value.permanent) == (Kind.HTTP_STATUS, 500, False)
        # A webhook receiver's 500 is an answer, not an error: the caller logs it.
        assert post(srv.url + "/a", b"{}", {}).status_code == 500


def test_a_redirect_loop_is_redirect(insecure):
    with serve({"/a": redirect("/a")}) as srv:
        assert kind_of(preflight, srv.url + "/a") == Kind.REDIRECT
        assert kind_of(download, srv.url + "/a", io.BytesIO(), max_bytes=MB) == Kind.REDIRECT


def test_something_that_is_not_a_url_is_invalid_url(insecure):
    assert kind_of(check_url, "not a url") == Kind.INVALID_URL
    assert kind_of(check_url, "https://example.com:0/") == Kind.INVALID_URL
    with serve({"/a": redirect("http://[::1")}) as srv:
        assert kind_of(preflight, srv.url + "/a") == Kind.INVALID_URL


def test_an_answer_that_is_not_http_or_ends_early_is_connection(insecure):
    def not_http(handler, request):
        handler.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")

    cut_short = Response(body=b"x" * KB, content_length=64 * KB)  # closes after 1 KB of 64
    with serve({"/not-http": Response(raw=not_http), "/short": cut_short}) as srv:
        assert kind_of(preflight, srv.url + "/not-http") == Kind.CONNECTION
        assert kind_of(post, srv.url + "/not-http", b"{}", {}) == Kind.CONNECTION
        with pytest.raises(OutboundError) as exc:
            download(srv.url + "/short", io.BytesIO(), max_bytes=MB)
    assert exc.value.kind == Kind.CONNECTION
    assert exc.value.message == "Invalid input: connection closed before the body was complete"
