"""Signed, expiring download links for a job's output file (docs/jobs.md).

`output_url` works without an API key for AIPROD_JOB_OUTPUT_URL_MAX_AGE
seconds (1 h); in webhook payloads for the whole retry window
(webhook_link_max_age). With object storage the link answers 302 to a
short-lived presigned URL, made when it is followed. The token signs the job id AND the stored file name, so a
link dies with the output it pointed at (a retry, a delete).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core import signing

from core.errors import ApplicationError

_SALT = "jobs.output-link"


def output_path(job_id: str) -> str:
    return f"/jobs/{job_id}/output"


def webhook_link_max_age() -> int:
    """Seconds a link in a webhook payload must work: the whole retry window
    (every step of AIPROD_WEBHOOK_RETRY_SCHEDULE with its 10 % jitter, plus a
    lease), plus an hour for the receiver to follow it."""
    schedule = settings.AIPROD_WEBHOOK_RETRY_SCHEDULE
    return int(sum(schedule) * 1.1) + settings.AIPROD_WEBHOOK_LEASE_SECONDS * len(schedule) + 3600


def signed_output_url(job, base_url: str = "", *, max_age: int | None = None) -> str:
    """The link; `max_age` (seconds) other than the default lifetime is
    carried, signed, in the token (webhook payloads outlive the hour)."""
    claims = {"j": job.pk, "f": job.output_file}
    if max_age is not None and max_age != settings.AIPROD_JOB_OUTPUT_URL_MAX_AGE:
        claims["x"] = int(max_age)
    token = signing.TimestampSigner(salt=_SALT).sign_object(claims)
    return f"{base_url}{output_path(job.pk)}?{urlencode({'token': token})}"


def verify_token(job_id: str, token: str) -> str:
    """The stored file name the token grants; raises 403 when it is
    tampered with, expired, or for another job."""
    signer = signing.TimestampSigner(salt=_SALT)
    try:
        claims = signer.unsign_object(token)  # the signature first: then "x" can be trusted
        max_age = claims.get("x") if isinstance(claims, dict) else None
        signer.unsign_object(token, max_age=max_age if isinstance(max_age, int) else settings.AIPROD_JOB_OUTPUT_URL_MAX_AGE)
    except signing.SignatureExpired:
        raise ApplicationError(
            403, "LINK_EXPIRED", "This download link has expired. Fetch the job again for a fresh output_url"
        ) from None
    except signing.BadSignature:
        raise ApplicationError(403, "INVALID_SIGNATURE", "This download link is not valid") from None
    if not isinstance(claims, dict) or claims.get("j") != job_id or not claims.get("f"):
        raise ApplicationError(403, "INVALID_SIGNATURE", "This download link is not valid")
    return claims["f"]
