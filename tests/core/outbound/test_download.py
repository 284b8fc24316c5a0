"""download: an input streamed from a real local server into a file, within limits."""

from __future__ import annotations

import hashlib
import io
import time
import tracemalloc

import pytest

from core import outbound
from core.outbound import Kind, OutboundError, download
from tests.httpservers import HANG, Response, closed_port, iter_chunks, redirect, serve

KB = 1024
MB = 1024 * 1024


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
    assert exc.value.kind == Kind.TOO_LARGE
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
    assert exc.value.kind == Kind.HTTP_STATUS
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
    assert exc.value.kind == Kind.TIMEOUT and not exc.value.permanent


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
