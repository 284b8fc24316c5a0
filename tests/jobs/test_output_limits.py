"""A job may write only so much (docs/limits.md): RLIMIT_FSIZE in the processing
child, an output-size limit per type and tier, OUTPUT_TOO_LARGE, scratch
removed, and output bytes counted against the monthly data quota."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlencode

import pytest

from jobs import tasks
from jobs.models import Job
from jobs.services import scratch, storage
from jobs.services.output_limits import limit_for
from quotas.models import MonthlyUsage
from tests import media_factory as mf

MiB = 1024**2


@pytest.fixture(autouse=True)
def _fast_heartbeat(settings):
    settings.AIPROD_JOB_HEARTBEAT_SECONDS = 0.2


@pytest.fixture(scope="module")
def silence(tmp_path_factory) -> bytes:
    """60 s of stereo silence as FLAC: ~17 KB that become an ~11 MB WAV."""
    return Path(mf.make_silent_flac(tmp_path_factory.mktemp("flac") / "silence.flac", seconds=60)).read_bytes()


def upload_wav_conversion(persona, flac: bytes) -> str:
    query = urlencode({"filename": "silence.flac", "type": "audio.convert", "params": json.dumps({"format": "wav"})})
    response = persona.api.post(f"/jobs/stream?{query}", flac, content_type="application/octet-stream")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def data_bytes_used(account) -> int:
    row = MonthlyUsage.objects.filter(account=account).first()
    return row.data_bytes if row else 0


def test_a_flac_of_silence_converted_to_wav_past_the_limit_fails_output_too_large(free, settings, silence, children):
    settings.AIPROD_JOB_OUTPUT_LIMIT_BYTES = 1 * MiB
    job_id = upload_wav_conversion(free, silence)
    assert tasks.run_job(job_id) == "failed"
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.error_code) == ("failed", "OUTPUT_TOO_LARGE")
    assert job.error == (
        "Output too large: audio.convert may write at most 1 MB per job on the free plan; "
        "the output grew past it and was discarded"
    )
    assert job.output_file == ""
    # The scratch directory (with the partial WAV) went with the attempt; nothing was stored.
    assert os.listdir(scratch.work_root()) == []
    assert not any(name.startswith("output") for _, _, names in os.walk(settings.MEDIA_ROOT) for name in names)
    assert children.new() == []
    # Only the input was counted: the discarded output is not.
    assert data_bytes_used(free.account) == len(silence)
    body = free.api.get(f"/jobs/{job_id}").json()
    assert (body["status"], body["error_code"]) == ("failed", "OUTPUT_TOO_LARGE")


def test_under_the_limit_the_conversion_completes_and_its_output_counts_against_the_data_quota(free, settings, silence):
    settings.AIPROD_JOB_OUTPUT_LIMIT_BYTES = 32 * MiB
    job_id = upload_wav_conversion(free, silence)
    assert tasks.run_job(job_id) == "completed", Job.objects.get(pk=job_id).error
    job = Job.objects.get(pk=job_id)
    output_size = storage.open_stored(job.output_file).size
    assert output_size > 10 * MiB  # 60 s * 48 kHz * 2 channels * 2 bytes, plus the header
    assert data_bytes_used(free.account) == len(silence) + output_size


def test_an_output_that_does_not_fit_the_data_quota_fails_quota_exceeded(free, settings, silence):
    from quotas.services import consume_data

    settings.AIPROD_JOB_OUTPUT_LIMIT_BYTES = 32 * MiB
    consume_data(free.account, livemode=True, nbytes=10**9 - 5 * MiB)  # 5 MB left: the input fits, the WAV not
    job_id = upload_wav_conversion(free, silence)
    assert tasks.run_job(job_id) == "failed"
    job = Job.objects.get(pk=job_id)
    assert (job.error_code, job.output_file) == ("QUOTA_EXCEEDED", "")
    assert job.error.startswith("Monthly data limit (1 GB) exceeded")
    assert os.listdir(scratch.work_root()) == []


def test_limits_differ_by_type_and_tier_and_the_setting_caps_them(settings):
    settings.AIPROD_JOB_OUTPUT_LIMIT_BYTES = 0
    assert limit_for("audio.convert", "free").bytes == 1024**3
    assert limit_for("audio.convert", "pro").bytes == 4 * 1024**3
    assert limit_for("audio.convert", "enterprise").bytes == 4 * 1024**3
    assert limit_for("video.thumbnail", "free").bytes == 50 * MiB
    settings.AIPROD_JOB_OUTPUT_LIMIT_BYTES = 3 * MiB
    assert limit_for("video.convert", "pro").bytes == 3 * MiB
    assert "3 MB" in limit_for("video.convert", "pro").message
