"""The address and scheme rules: which URLs core.outbound refuses before connecting,
and the words it uses (quoted in the API's INVALID_URL answers)."""

from __future__ import annotations

import io

import pytest

from core.outbound import LOCAL_DEVELOPMENT_HINT as LOCAL_HINT
from core.outbound import Kind, OutboundError, check_url, download, post, preflight
from tests.httpservers import redirect, serve

MB = 1024 * 1024


def test_http_urls_are_refused_when_insecure_mode_is_off(secure):
    with pytest.raises(OutboundError) as exc:
        check_url("http://example.com/file.mp4")
    assert exc.value.message == "Input URL must use HTTPS"
    assert exc.value.kind == Kind.BLOCKED
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
    assert exc.value.kind == Kind.BLOCKED
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
    assert exc.value.kind == Kind.DNS and not exc.value.permanent


@pytest.mark.parametrize("url", ["", "https://", "https:///path", "https://exa mple.com/", "https://example.com:99999/", "not a url"])
def test_malformed_urls_are_refused(secure, url):
    with pytest.raises(OutboundError) as exc:
        check_url(url)
    assert (exc.value.message, exc.value.kind) in (("Input URL is not a valid URL", Kind.INVALID_URL),
                                                   ("Input URL must use HTTPS", Kind.BLOCKED))


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
