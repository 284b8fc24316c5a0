"""Signed, expiring download links for a job's output file (SPEC §8).

`output_url` works without an API key for AIPROD_JOB_OUTPUT_URL_MAX_AGE
seconds (1 h). The token signs the job id AND the stored file name, so a
link dies with the output it pointed at (a retry, a delete).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core import signing

from aiprod.errors import ApplicationError

_SALT = "jobs.output-link"


def output_path(job_id: str) -> str:
    return f"/jobs/{job_id}/output"


def signed_output_url(job, base_url: str = "") -> str:
    token = signing.TimestampSigner(salt=_SALT).sign_object({"j": job.pk, "f": job.output_file})
    return f"{base_url}{output_path(job.pk)}?{urlencode({'token': token})}"


def verify_token(job_id: str, token: str) -> str:
    """The stored file name the token grants; raises 403 when it is
    tampered with, expired, or for another job."""
    try:
        claims = signing.TimestampSigner(salt=_SALT).unsign_object(
            token, max_age=settings.AIPROD_JOB_OUTPUT_URL_MAX_AGE
        )
    except signing.SignatureExpired:
        raise ApplicationError(
            403, "LINK_EXPIRED", "This download link has expired. Fetch the job again for a fresh output_url"
        ) from None
    except signing.BadSignature:
        raise ApplicationError(403, "INVALID_SIGNATURE", "This download link is not valid") from None
    if not isinstance(claims, dict) or claims.get("j") != job_id or not claims.get("f"):
        raise ApplicationError(403, "INVALID_SIGNATURE", "This download link is not valid")
    return claims["f"]
