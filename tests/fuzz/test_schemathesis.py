"""Schemathesis fuzzes the API from its own /openapi.json on a live server.

Every check Schemathesis 4 has runs (its default): not_a_server_error,
status_code_conformance, content_type_conformance, response_schema_conformance,
response_headers_conformance, negative_data_rejection, positive_data_acceptance,
ignored_auth, use_after_free, ensure_resource_availability,
missing_required_header, unsupported_method, allow_header_conformance; in the
phases examples, coverage, fuzzing and stateful; NUL bytes in the fuzzing
phase's strings; a fixed seed (AIPROD_FUZZ_SEED), deterministic generation
and at most AIPROD_FUZZ_EXAMPLES (10; 25 or more for a longer hunt) examples
per operation and phase. Any failure fails the test with the whole report in
the assertion message (also written to $AIPROD_FUZZ_LOG_DIR/<run>.log when
that is set). positive_data_acceptance keeps Schemathesis's list of accepted
answers: a schema-valid request refused with 400/422 is a failure, except in
KNOWN_REFUSALS, each with the rule the schema cannot state (see _config).
Query cursors are drawn from real ones, path ids half of the time.

Three runs, so no operation is left out:
* with an enterprise account's live key (rate limit lifted): every operation
  except the four that change who may call the API (a revoked fuzzing key or
  an allow-list that shuts out 127.0.0.1 would turn the rest of the run into
  401/403s). Path ids are drawn half of the time from real objects;
* those four operations, on a second account whose key and allow-list are
  free to be broken;
* without any key (random or no credentials): every operation, no stateful
  phase (there is no state to walk through without a key).

The fuzzer makes the server send requests to URLs it invents (input URLs,
webhooks). The server runs in this process, so name resolution is narrowed to
loopback for the run: nothing leaves the machine, and invented hosts fail the
way unresolvable ones do (422 INVALID_URL, failed deliveries).
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from accounts.models import Account, ApiKey
from core.pagination import encode_cursor
from core.timefmt import month_start
from jobs.models import Job, JobStatus
from tests.conftest import requires_postgres

pytestmark = [pytest.mark.slow, requires_postgres]

ST = str(Path(sys.executable).with_name("st"))
SEED = os.environ.get("AIPROD_FUZZ_SEED", "20261129")
EXAMPLES = os.environ.get("AIPROD_FUZZ_EXAMPLES", "10")
# The operations that change who may call the API (fuzzed in their own run).
SELF_LOCKING = [
    ("DELETE", "/account/api-keys/{key_id}"),
    ("PATCH", "/account/security"),
    ("POST", "/account/security/whitelist"),
    ("DELETE", "/account/security/whitelist"),
]

_real_getaddrinfo = socket.getaddrinfo


def _loopback_only_getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name is None or name == "localhost":
        return _real_getaddrinfo(host, *args, **kwargs)
    try:
        address = ipaddress.ip_address(str(name).split("%", 1)[0])
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise socket.gaierror(socket.EAI_NONAME, "fuzz run: only loopback addresses resolve")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture
def server(live_server, monkeypatch, settings):
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_only_getaddrinfo)
    # The keyless run is all failed authentications from one address: let them
    # reach the API's checks instead of the guessing brake's 429.
    settings.AIPROD_AUTH_FAILURE_LIMIT = "1000000/m"
    settings.AIPROD_WEBHOOK_TIMEOUT = 2
    settings.AIPROD_JOB_FETCH_TIMEOUT = 2
    settings.AIPROD_WEBHOOK_RETRY_SCHEDULE = [0]
    return live_server


def _enterprise(personas):
    """An account the rate limiter never stops (the fuzzer is not testing 429s)."""
    persona = personas("enterprise")
    Account.objects.filter(pk=persona.account.pk).update(requests_per_second=1_000_000)
    return persona


def _seed_objects(url: str, persona) -> dict[str, list[str]]:
    """Real ids for the path parameters (each drawn half of the time): without
    them nearly every {id} operation would only ever answer 404. Made through
    the API itself, except jobs still pending, which a sync-mode server never
    leaves pending (their input URL is a closed loopback port)."""
    key = persona.key
    api = requests.Session()
    api.headers["X-API-Key"] = key

    def call(method, path, **kwargs):
        response = api.request(method, url + path, timeout=60, **kwargs)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json()

    jobs = [
        call("POST", "/jobs/stream", params={"filename": f"note{i}.txt"}, data=b"hello fuzzer\n" * 20,
             headers={"Content-Type": "text/plain"})["id"]
        for i in range(4)
    ]
    now = timezone.now()
    for status in (JobStatus.PENDING, JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.FAILED):
        jobs.append(Job.objects.create(
            account=persona.account, livemode=True, name=f"seeded {status} {len(jobs)}", status=status,
            input_url="http://127.0.0.1:9/input.png", timeout=300, created_month=month_start(now),
            last_activity_at=now,
        ).pk)
    hooks = [call("POST", "/account/webhooks", json={"url": f"http://127.0.0.1:9/hook{i}"})["id"] for i in range(3)]
    deliveries = [call("POST", f"/account/webhooks/{hooks[0]}/test", json={})["id"] for _ in range(2)]
    keys = list(ApiKey.objects.filter(account=persona.account).values_list("id", flat=True))
    # Cursors as the server writes them (a number for an id fits request logs too):
    # a random string of the cursor's pattern is almost never one (400 Invalid cursor).
    cursors = [encode_cursor(now - timedelta(minutes=m), str(m)) for m in (0, 5, 60 * 24)]
    return {"job_ids": jobs, "webhook_ids": hooks, "delivery_ids": deliveries, "key_ids": keys, "cursors": cursors}


# positive_data_acceptance: a schema-valid request must not be refused as
# invalid. Schemathesis's own list of acceptable answers ("5xx" is left to
# not_a_server_error) ...
POSITIVE_OK = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
# ... plus 400 in the fuzzing phase, the one phase that puts NUL characters in
# strings: the API refuses them everywhere (docs/errors.md, 400), which the
# schema does not repeat on every string.
FUZZING_OK = [*POSITIVE_OK, "400"]
# Schema-valid requests refused for a rule no schema can state: operation ->
# (extra statuses, reason). Everything else must be accepted.
STATE = "the job's state decides (INVALID_STATE), not the request's shape"
UNRESOLVED = "the URL's host must resolve to a public address (422 INVALID_URL): the run resolves loopback only"
MEDIA = "the input must be media a processor takes (422 UNSUPPORTED_INPUT)"
UPLOAD = "upload_id must name one of the account's own uploads (400)"
METADATA = "metadata keys must be 1 to 255 characters (400): OAS 3.0 has no propertyNames to say so"
NAME_TAKEN = "a job's name is unique per account and month (422 DUPLICATE_JOB)"
HOOK_ADDRESS = "a webhook_url at a non-public address is refused (422 INVALID_URL)"
ADDRESS = "an IPv4/IPv6 address or CIDR: a string to the schema, the grammar is checked in code"
LOCKOUT = "a change that shuts out the caller's own address is refused (422 LOCKOUT_PREVENTED)"
KNOWN_REFUSALS: dict[str, tuple[list[str], str]] = {
    "POST /jobs": (["400", "422"], f"{UNRESOLVED}; {MEDIA}; {UPLOAD}; {METADATA}; {NAME_TAKEN}; {HOOK_ADDRESS}"),
    "PATCH /jobs/{job_id}": (["400", "422"], f"{STATE}; {METADATA}; {NAME_TAKEN}; {HOOK_ADDRESS}"),
    "POST /jobs/stream": (["400", "422"], "the bytes must be the media the filename or Content-Type names, one a processor takes "
                          "(422 UNSUPPORTED_INPUT); "
                          "the params query is the type's params as JSON, a string to the schema (400); "
                          f"{NAME_TAKEN}; {HOOK_ADDRESS}"),
    "POST /jobs/{job_id}/cancel": (["422"], STATE),
    "POST /jobs/{job_id}/retry": (["422"], STATE),
    "POST /jobs/{job_id}/timeout": (["422"], STATE),
    "POST /account/webhooks": (["422"], UNRESOLVED),
    "PATCH /account/webhooks/{webhook_id}": (["422"], UNRESOLVED),
    "POST /account/webhooks/{webhook_id}/verify": (["422"], "the endpoint must answer 2xx (422 VERIFICATION_FAILED)"),
    "POST /uploads": (["422"], "the file's kind comes from its extension or Content-Type (422 UNSUPPORTED_INPUT)"),
    "POST /account/security/whitelist": (["400"], ADDRESS),
    "DELETE /account/security/whitelist": (["400", "422"], f"{ADDRESS}; {LOCKOUT}"),
    "PATCH /account/security": (["400", "422"], f"{ADDRESS}; {LOCKOUT}"),
}

# negative_data_rejection has one known gap, left on as no request in these
# runs reaches it: POST /jobs without `type` is taken as auto, though the
# schema requires `type` (the discriminator's property, as OAS asks; the
# schema says so in words). Such a body only gets a 201 with an input that
# resolves or a real upload id, and here none does.


def _toml(value) -> str:
    return json.dumps(value)


def _config(path: Path, ids: dict[str, list[str]]) -> Path:
    lines = [
        "# Written by tests/fuzz/test_schemathesis.py.",
        "generation.allow-x00 = false",
        "phases.fuzzing.generation.allow-x00 = true",
        f"checks.positive_data_acceptance.expected-statuses = {_toml(POSITIVE_OK)}",
        f"phases.fuzzing.checks.positive_data_acceptance.expected-statuses = {_toml(FUZZING_OK)}",
        "",
    ]
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    params = {"job_ids": "job_id", "webhook_ids": "webhook_id", "delivery_ids": "delivery_id", "key_ids": "key_id"}
    if ids:
        lines.append("[parameters]")
    for name in ids:
        if name == "cursors":
            lines.append(f'"query.cursor" = {{ dictionary = "{name}" }}')
        else:
            lines.append(f'"path.{params[name]}" = {{ dictionary = "{name}", probability = 0.5 }}')
    lines.append("")
    for operation, (statuses, _reason) in KNOWN_REFUSALS.items():
        lines += [
            "[[operations]]",
            f"include-name = {_toml(operation)}",
            f"checks.positive_data_acceptance.expected-statuses = {_toml(POSITIVE_OK + statuses)}",
            f"phases.fuzzing.checks.positive_data_acceptance.expected-statuses = {_toml(FUZZING_OK + statuses)}",
            "",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def st_run(server, *args, config: Path, name: str, log_dir: Path):
    started = time.monotonic()
    cmd = [
        ST, "--config-file", str(config), "run", f"{server.url}/openapi.json",
        "--seed", SEED,
        "--generation-deterministic",
        "--max-examples", EXAMPLES,
        "--workers", os.environ.get("AIPROD_FUZZ_WORKERS", "2"),
        "--request-timeout", "30",
        "--no-color",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=log_dir)
    output = f"{' '.join(cmd)}\n{time.monotonic() - started:.0f}s rc={proc.returncode}\n{proc.stdout}{proc.stderr}"
    (Path(os.environ.get("AIPROD_FUZZ_LOG_DIR") or log_dir) / f"{name}.log").write_text(output)
    return proc.returncode, output


def _exclude(operations) -> list[str]:
    args = []
    for method, path in operations:
        args += ["--exclude-name", f"{method} {path}"]
    return args


def _include(operations) -> list[str]:
    args = []
    for method, path in operations:
        args += ["--include-name", f"{method} {path}"]
    return args


def test_fuzzing_with_a_key_finds_no_server_error_and_no_schema_violation(server, personas, tmp_path):
    persona = _enterprise(personas)
    ids = _seed_objects(server.url, persona)
    config = _config(tmp_path / "schemathesis.toml", ids)
    rc, output = st_run(server, "-H", f"X-API-Key: {persona.key}", *_exclude(SELF_LOCKING),
                        config=config, name="with-key", log_dir=tmp_path)
    assert rc == 0, output


def test_fuzzing_the_operations_that_change_access_finds_nothing(server, personas, tmp_path):
    persona = _enterprise(personas)
    disposable = ApiKey.objects.filter(account=persona.account, environment="test").values_list("id", flat=True)
    config = _config(tmp_path / "schemathesis.toml", {"key_ids": list(disposable)})
    rc, output = st_run(server, "-H", f"X-API-Key: {persona.key}", *_include(SELF_LOCKING),
                        config=config, name="access", log_dir=tmp_path)
    assert rc == 0, output


def test_fuzzing_without_a_key_finds_no_server_error_and_no_schema_violation(server, tmp_path):
    # No stateful phase: without a key there is no state to walk through.
    config = _config(tmp_path / "schemathesis.toml", {})
    rc, output = st_run(server, "--phases", "examples,coverage,fuzzing",
                        config=config, name="without-key", log_dir=tmp_path)
    assert rc == 0, output
