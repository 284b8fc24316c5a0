"""The data quota stops an input download part-way (docs/limits.md): bytes are
counted as they arrive and the read stops when the month has no room."""

from __future__ import annotations

import io
import time

import pytest

from accounts.models import Account
from core import outbound
from quotas.models import MonthlyUsage
from accounts.plans import GB
from quotas.services import DataMeter, QuotaExceeded, consume_data
from core.timefmt import month_start
from tests.httpservers import Response, iter_chunks, serve

CHUNK = 64 * 1024
BODY_BYTES = 64 * 1024 * 1024  # far more than socket buffers can hold
LEFT = 1_000_000


@pytest.fixture
def nearly_used_up(personas):
    """An account with 1 GB a month, of which 1 MB is left."""
    persona = personas("enterprise")
    Account.objects.filter(pk=persona.account.pk).update(data_gb_per_month=1)
    persona.account.refresh_from_db()
    MonthlyUsage.objects.create(account=persona.account, month=month_start(), data_bytes=GB - LEFT)
    return persona


def big_file_server():
    return serve({"/big.bin": Response(body=iter_chunks(b"x" * CHUNK, BODY_BYTES // CHUNK), content_length=BODY_BYTES)})


def wait_for_server_to_give_up(request, timeout=10.0):
    deadline = time.monotonic() + timeout
    while request.write_error is None and request.bytes_sent < BODY_BYTES and time.monotonic() < deadline:
        time.sleep(0.02)


def test_consume_data_in_on_progress_stops_the_download(nearly_used_up):
    account = nearly_used_up.account
    received = io.BytesIO()
    counted = 0

    def on_progress(total):
        nonlocal counted
        delta, counted = total - counted, total
        consume_data(account, livemode=True, nbytes=delta)

    with big_file_server() as srv:
        with pytest.raises(QuotaExceeded) as refused:
            outbound.download(srv.url + "/big.bin", received, max_bytes=2 * GB, on_progress=on_progress)
        request = srv.wait_for_requests(1)[0]
        wait_for_server_to_give_up(request)

    assert refused.value.code == "QUOTA_EXCEEDED"
    # We read at most one chunk past what was left, then hung up.
    assert LEFT < len(received.getvalue()) <= LEFT + CHUNK
    assert request.bytes_sent < BODY_BYTES
    assert request.write_error is not None
    assert MonthlyUsage.objects.get(account=account).data_bytes == GB


def test_the_data_meter_stops_the_download_within_one_step(nearly_used_up):
    account = nearly_used_up.account
    received = io.BytesIO()
    meter = DataMeter(account, livemode=True, step=256 * 1024)

    with big_file_server() as srv:
        with pytest.raises(QuotaExceeded):
            outbound.download(srv.url + "/big.bin", received, max_bytes=2 * GB, on_progress=meter)
        request = srv.wait_for_requests(1)[0]
        wait_for_server_to_give_up(request)

    assert len(received.getvalue()) <= LEFT + meter.step
    assert request.bytes_sent < BODY_BYTES
    assert MonthlyUsage.objects.get(account=account).data_bytes == GB


def test_the_data_meter_counts_the_tail_on_finish(free):
    meter = DataMeter(free.account, livemode=True, step=1_000_000)
    for total in range(0, 2_500_001, 65_536):
        meter(total)
    meter.finish(2_500_001)
    assert MonthlyUsage.objects.get(account=free.account).data_bytes == 2_500_001


def test_a_test_mode_download_reads_everything(nearly_used_up):
    received = io.BytesIO()
    meter = DataMeter(nearly_used_up.account, livemode=False)
    with serve({"/f": (200, {}, b"y" * (3 * LEFT))}) as srv:
        result = outbound.download(srv.url + "/f", received, max_bytes=GB, on_progress=meter)
    meter.finish(result.size_bytes)
    assert result.size_bytes == 3 * LEFT
    assert MonthlyUsage.objects.get(account=nearly_used_up.account).data_bytes == GB - LEFT


def test_a_live_job_whose_input_passes_the_data_quota_fails_with_quota_exceeded(
    nearly_used_up, django_capture_on_commit_callbacks
):
    with serve({"/notes.txt": (200, {"Content-Type": "text/plain"}, b"word " * (LEFT // 2))}) as srv:
        with django_capture_on_commit_callbacks(execute=True):  # runs the queued job (sync django-q2)
            created = nearly_used_up.api.post(
                "/jobs", {"name": "too much", "input_url": srv.url + "/notes.txt", "type": "document.extract_text"}
            )
        assert created.status_code == 201, created.content
        job = nearly_used_up.api.get(f"/jobs/{created.json()['id']}").json()
    assert job["status"] == "failed"
    assert job["error_code"] == "QUOTA_EXCEEDED"
    assert job["error"].startswith("Monthly data limit (1 GB) exceeded.")
