"""core.outbound against real local servers (docs/jobs.md, docs/webhooks.md).

Nothing of ours is mocked. Where a test needs DNS answers that no real name
gives (a rebinding host), it replaces ``socket.getaddrinfo``, the resolver
the module calls.
"""

from __future__ import annotations

import hashlib
import io
import socket
import time
import tracemalloc

import pytest

from core import outbound
from core.outbound import LOCAL_DEVELOPMENT_HINT as LOCAL_HINT
from core.outbound import OutboundError, check_url, download, post, preflight
from tests.httpservers import (
    HANG,
    TLS_UNAVAILABLE_REASON,
    Response,
    closed_port,
    iter_chunks,
    redirect,
    self_signed_cert,
    serve,
)

KB = 1024
MB = 1024 * 1024


# --------------------------------------------------------------------------- fixtures


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


class ChunkRecorder(io.RawIOBase):
    """A file that keeps only a hash and the size of every write."""

    def __init__(self):
        self.sizes: list[int] = []
        self.sha = hashlib.sha256()

    def writable(self):
        return True

    def write(self, data):
        self.sizes.append(len(data))
        self.sha.update(data)
        return len(data)


# --------------------------------------------------------------------------- the address and scheme rules


def test_http_urls_are_refused_when_insecure_mode_is_off(secure):
    with pytest.raises(OutboundError) as exc:
        check_url("http://example.com/file.mp4")
    assert exc.value.message == "Input URL must use HTTPS"
    assert exc.value.code == "INVALID_URL" and exc.value.permanent

    with pytest.raises(OutboundError, match="^Webhook URL must use HTTPS$"):
        post("http://example.com/hook", b"{}", {})


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # CGNAT
        "0.0.0.0",
        "198.18.0.1",  # benchmarking
        "192.0.2.1",  # documentation
        "224.0.0.1",  # multicast
        "255.255.255.255",
        "2130706433",  # 127.0.0.1 written as one number
        "[::1]",
        "[::]",
        "[::ffff:127.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[fe80::1]",
        "[fc00::1]",
        "[ff02::1]",
        "[2001:db8::1]",
        "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
        "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
    ],
)
def test_private_and_special_addresses_are_refused(secure, host):
    with pytest.raises(OutboundError) as exc:
        check_url(f"https://{host}/file.mp4")
    # Loopback and private networks (a developer's own server) get the hint; metadata, CGNAT etc. do not.
    local = host in ("127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.0.1", "192.168.1.1", "[::1]",
                     "[::ffff:127.0.0.1]", "[fc00::1]", "2130706433")  # the last resolves to 127.0.0.1
    assert exc.value.message == "Input URL resolves to a private address" + (LOCAL_HINT if local else "")
    assert exc.value.code == "INVALID_URL" and exc.value.permanent


def test_a_hostname_resolving_to_loopback_is_refused(secure):
    with pytest.raises(OutboundError) as exc:
        check_url("https://localhost/file.mp4")
    assert exc.value.message == "Input URL resolves to a private address" + LOCAL_HINT


def test_a_plain_http_url_to_this_machine_says_how_development_setups_allow_it(secure):
    with pytest.raises(OutboundError) as exc:
        check_url("http://127.0.0.1:8000/file.mp4")
    assert exc.value.message == "Input URL must use HTTPS" + LOCAL_HINT


def test_a_name_resolving_to_a_private_address_gets_the_development_hint(secure, fake_dns):
    fake_dns("files.internal", ["10.1.2.3"])
    fake_dns("devbox", ["127.0.1.1", "::1"])
    with pytest.raises(OutboundError) as exc:
        check_url("https://files.internal/file.mp4")
    assert exc.value.message == "Input URL resolves to a private address" + LOCAL_HINT
    with pytest.raises(OutboundError) as exc:
        check_url("http://devbox:8000/file.mp4")
    assert exc.value.message == "Input URL must use HTTPS" + LOCAL_HINT


def test_a_plain_http_url_to_a_public_or_unresolvable_name_gets_no_development_hint(secure, fake_dns):
    fake_dns("cdn.example", ["93.184.216.34"])
    fake_dns("nowhere.example", [])
    for url in ("http://cdn.example/file.mp4", "http://nowhere.example/file.mp4"):
        with pytest.raises(OutboundError) as exc:
            check_url(url)
        assert exc.value.message == "Input URL must use HTTPS"


def test_a_host_is_refused_when_any_of_its_addresses_is_private(secure, fake_dns):
    fake_dns("mixed.example", ["93.184.216.34", "10.1.2.3"])
    with pytest.raises(OutboundError, match="^Input URL resolves to a private address$"):
        check_url("https://mixed.example/file.mp4")


@pytest.mark.parametrize("url", ["https://8.8.8.8/a.mp4", "https://[2606:4700::1111]/a.mp4", "https://[64:ff9b::808:808]/"])
def test_public_addresses_pass_the_check(secure, url):
    check_url(url)


def test_an_unresolvable_host_is_reported_as_such(secure, fake_dns):
    fake_dns("nowhere.example", [])
    with pytest.raises(OutboundError) as exc:
        check_url("https://nowhere.example/a.mp4", label="Webhook URL")
    assert exc.value.message == "Webhook URL host could not be resolved"
    assert not exc.value.permanent


@pytest.mark.parametrize("url", ["", "https://", "https:///path", "https://exa mple.com/", "https://example.com:99999/", "not a url"])
def test_malformed_urls_are_refused(secure, url):
    with pytest.raises(OutboundError) as exc:
        check_url(url)
    assert exc.value.message in ("Input URL is not a valid URL", "Input URL must use HTTPS")


def test_addresses_in_the_allowed_networks_count_as_public(only_127_0_0_2_allowed):
    with serve({"/a.mp4": (200, {"Content-Type": "video/mp4"}, b"x" * 10)}, host="127.0.0.2") as srv:
        result = preflight(srv.url + "/a.mp4")
    assert result.status_code == 200
    with pytest.raises(OutboundError, match="private address"):
        check_url("http://127.0.0.1/a.mp4")


def test_a_redirect_to_a_private_address_is_refused(only_127_0_0_2_allowed):
    with serve({"/secret": (200, {}, b"internal")}) as internal:
        with serve({"/a.mp4": redirect(internal.url + "/secret")}, host="127.0.0.2") as public:
            with pytest.raises(OutboundError, match="^Input URL resolves to a private address"):
                preflight(public.url + "/a.mp4")
            with pytest.raises(OutboundError, match="^Input URL resolves to a private address"):
                download(public.url + "/a.mp4", io.BytesIO(), max_bytes=MB)
        assert internal.requests == []


def test_a_webhook_to_a_private_address_is_refused_permanently(secure):
    with serve({"/hook": 200}) as srv:
        with pytest.raises(OutboundError) as exc:
            post(f"https://127.0.0.1:{srv.port}/hook", b"{}", {})
        assert srv.requests == []
    assert exc.value.message == "Webhook URL resolves to a private address" + LOCAL_HINT
    assert exc.value.permanent


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


# --------------------------------------------------------------------------- preflight


def test_preflight_answers_with_the_servers_facts(insecure):
    with serve({"/a.mp4": (200, {"Content-Type": "video/mp4"}, b"x" * 1234)}) as srv:
        result = preflight(srv.url + "/a.mp4")
    assert result == outbound.PreflightResult(200, "video/mp4", 1234, srv.url + "/a.mp4")
    [request] = srv.requests
    assert request.method == "HEAD"
    assert request.headers["User-Agent"] == "AIPROD/33"
    assert request.headers["Cookie"] is None


def test_ipv6_hosts_are_reached_on_their_address(insecure):
    with serve({"/a.mp4": (200, {"Content-Type": "video/mp4"}, b"v6")}, host="::1") as srv:
        assert srv.url.startswith("http://[::1]:")
        assert preflight(srv.url + "/a.mp4").status_code == 200
        assert post(srv.url + "/a.mp4", b"{}", {}).body_prefix == b"v6"
    assert srv.requests[0].headers["Host"] == f"[::1]:{srv.port}"


def test_preflight_reports_the_http_status(insecure):
    with serve() as srv:
        with pytest.raises(OutboundError) as exc:
            preflight(srv.url + "/missing.mp4")
    assert exc.value.message == "Input URL returned HTTP 404"
    assert exc.value.status_code == 404 and exc.value.code == "INVALID_URL"


def test_preflight_reports_a_refused_connection(insecure):
    with closed_port() as port:
        with pytest.raises(OutboundError) as exc:
            preflight(f"http://127.0.0.1:{port}/a.mp4")
    assert exc.value.message == "Input URL is unreachable: connection refused"
    assert not exc.value.permanent


def test_preflight_times_out_with_the_configured_value(insecure):
    with serve({"/a.mp4": Response(delay=HANG)}) as srv:
        started = time.monotonic()
        with pytest.raises(OutboundError) as exc:
            preflight(srv.url + "/a.mp4", timeout=0.5)
        elapsed = time.monotonic() - started
    assert exc.value.message == "Input URL is unreachable: connection timeout after 0.5s"
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
        with pytest.raises(OutboundError, match="^Input URL (redirected to an invalid URL|is not a valid URL)$"):
            download(srv.url + "/a.mp4", io.BytesIO(), max_bytes=MB)


# --------------------------------------------------------------------------- download


def test_download_streams_a_large_body_in_bounded_chunks(insecure):
    body_chunk = bytes(range(256)) * 256  # 64 KiB
    count = 128  # 8 MiB
    expected = hashlib.sha256(body_chunk * count).hexdigest()
    progress: list[int] = []
    sink = ChunkRecorder()
    with serve({"/big.bin": Response(headers={"Content-Type": "application/octet-stream"},
                                     body=iter_chunks(body_chunk, count), content_length=count * len(body_chunk))}) as srv:
        tracemalloc.start()
        try:
            result = download(srv.url + "/big.bin", sink, max_bytes=100 * MB, on_progress=progress.append)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert result == outbound.DownloadResult("application/octet-stream", 8 * MB, srv.url + "/big.bin")
    assert sink.sha.hexdigest() == expected
    assert max(sink.sizes) <= 64 * KB
    assert len(progress) == len(sink.sizes) >= 128
    assert progress == sorted(progress) and progress[-1] == 8 * MB
    assert peak < 2 * MB  # the 8 MiB body was never held in memory


def test_download_refuses_a_body_announced_over_the_limit(insecure):
    progress: list[int] = []
    sink = io.BytesIO()
    with serve({"/big.mp4": Response(body=iter_chunks(b"x" * 64 * KB, 160), content_length=10 * MB)}) as srv:
        with pytest.raises(OutboundError) as exc:
            download(srv.url + "/big.mp4", sink, max_bytes=MB, on_progress=progress.append)
    assert exc.value.message == "Input exceeds the 1 MB limit"
    assert exc.value.code == "INPUT_TOO_LARGE" and exc.value.permanent
    assert sink.getvalue() == b"" and progress == []


def test_download_stops_a_chunked_body_as_soon_as_it_passes_the_limit(insecure):
    sink = io.BytesIO()
    with serve({"/big.mp4": Response(body=iter_chunks(b"x" * 64 * KB, 160), chunked=True)}) as srv:
        with pytest.raises(OutboundError) as exc:
            download(srv.url + "/big.mp4", sink, max_bytes=500 * KB, limit_label="500 KB")
    assert exc.value.message == "Input exceeds the 500 KB limit"
    assert exc.value.code == "INPUT_TOO_LARGE"
    assert len(sink.getvalue()) <= 500 * KB


def test_download_reports_the_http_status(insecure):
    with serve({"/private.mp4": 403}) as srv:
        with pytest.raises(OutboundError) as exc:
            download(srv.url + "/private.mp4", io.BytesIO(), max_bytes=MB)
    assert exc.value.message == "Invalid input: URL returned HTTP 403"
    assert exc.value.status_code == 403 and exc.value.permanent


def test_download_follows_two_redirects_but_not_three(insecure):
    with serve({"/1": redirect("/2", 301), "/2": redirect("/3", 307), "/3": redirect("/4", 308), "/4": (200, {}, b"data")}) as srv:
        sink = io.BytesIO()
        result = download(srv.url + "/2", sink, max_bytes=MB)
        assert (sink.getvalue(), result.final_url, result.size_bytes) == (b"data", srv.url + "/4", 4)
        with pytest.raises(OutboundError, match="^Too many redirects$"):
            download(srv.url + "/1", io.BytesIO(), max_bytes=MB)


def test_download_times_out_when_no_first_byte_arrives(insecure):
    with serve({"/a.mp4": Response(delay=HANG)}) as srv:
        with pytest.raises(OutboundError) as exc:
            download(srv.url + "/a.mp4", io.BytesIO(), max_bytes=MB, first_byte_timeout=0.5)
    assert exc.value.message == "Timeout after 0.5s"
    assert not exc.value.permanent


def test_download_times_out_when_the_body_stalls(insecure):
    sink = io.BytesIO()
    with serve({"/a.mp4": Response(body=iter_chunks(b"x" * 64 * KB, 4), content_length=256 * KB, stall_after=100 * KB)}) as srv:
        started = time.monotonic()
        with pytest.raises(OutboundError, match="^Timeout after 0.5s$"):
            download(srv.url + "/a.mp4", sink, max_bytes=MB, first_byte_timeout=0.5)
        assert time.monotonic() - started < 3
    assert 0 < len(sink.getvalue()) <= 100 * KB


def test_an_exception_from_on_progress_stops_the_download(insecure):
    class QuotaExceeded(Exception):
        pass

    def on_progress(done):
        if done >= 128 * KB:
            raise QuotaExceeded(done)

    with serve({"/a.mp4": Response(body=iter_chunks(b"x" * 64 * KB, 16), content_length=MB)}) as srv:
        with pytest.raises(QuotaExceeded):
            download(srv.url + "/a.mp4", io.BytesIO(), max_bytes=10 * MB, on_progress=on_progress)


def test_download_reports_a_refused_connection(insecure):
    with closed_port() as port:
        with pytest.raises(OutboundError, match="^Invalid input: connection refused$"):
            download(f"http://127.0.0.1:{port}/a.mp4", io.BytesIO(), max_bytes=MB)


# --------------------------------------------------------------------------- post (webhooks)


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
    assert not exc.value.permanent


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
    assert not exc.value.permanent


def test_post_reports_an_unresolvable_host(insecure, fake_dns):
    fake_dns("gone.example", [])
    with pytest.raises(OutboundError) as exc:
        post("http://gone.example/hook", b"{}", {})
    assert exc.value.message == "Could not resolve host"
    assert not exc.value.permanent


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
    assert not exc.value.permanent


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
