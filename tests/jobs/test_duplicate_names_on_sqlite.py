"""A taken job name is 422 DUPLICATE_JOB on SQLite too (the `make run` default).

The in-process tests (test_create, test_state, test_stream) run on
PostgreSQL; these start a real gunicorn on a throw-away SQLite database, as
`make run` does, and make the same mistakes a newcomer makes there: create
a job twice under one name, rename a job to a taken name, upload under it.
"""

from __future__ import annotations

import json
import os

import pytest
import requests

from tests.processes import gunicorn, manage

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def sqlite_api(tmp_path_factory):
    """A gunicorn on a fresh SQLite database: (base URL, live key)."""
    root = tmp_path_factory.mktemp("sqlite-deployment")
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "aiprod.settings",
        "DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}",
        "AIPROD_MEDIA_ROOT": str(root / "media"),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "AIPROD_ALLOW_INSECURE_URLS": "1",  # the input is a local server
        "AIPROD_Q_SYNC": "0",  # jobs wait in the ORM broker: no worker needed here
        "AIPROD_REQUEST_LOG_ASYNC": "0",
        "AIPROD_CACHE_PREFIX": f"aiprod-sqlite-{os.getpid()}",
    })
    manage(env, "migrate", "--noinput", "-v0")
    key = json.loads(manage(env, "create_account", "--email", "sqlite@example.com", "--tier", "pro", "--json"))["api_key"]
    with gunicorn(env, root / "gunicorn.log", workers=1, threads=2) as base:
        yield base, key


def call(sqlite_api, method: str, path: str, headers: dict | None = None, **kwargs) -> requests.Response:
    base, key = sqlite_api
    return requests.request(method, base + path, headers={"X-API-Key": key, **(headers or {})}, timeout=30, **kwargs)


def test_creating_a_second_job_with_a_taken_name_is_duplicate_job_on_sqlite(sqlite_api, files):
    body = {"name": "same-on-sqlite", "input_url": f"{files.url}/pic.png"}
    assert call(sqlite_api, "POST", "/jobs", json=body).status_code == 201
    again = call(sqlite_api, "POST", "/jobs", json=body)
    assert again.status_code == 422, again.text
    assert again.json()["code"] == "DUPLICATE_JOB"
    assert again.json()["message"] == "Job with this name already exists in this month"


def test_renaming_a_job_to_a_taken_name_is_duplicate_job_on_sqlite(sqlite_api, files):
    for name in ("taken-on-sqlite", "mine-on-sqlite"):
        created = call(sqlite_api, "POST", "/jobs", json={"name": name, "input_url": f"{files.url}/pic.png"})
        assert created.status_code == 201, created.text
    mine = created.json()["id"]
    renamed = call(sqlite_api, "PATCH", f"/jobs/{mine}", json={"name": "taken-on-sqlite"})
    assert renamed.status_code == 422, renamed.text
    assert renamed.json()["code"] == "DUPLICATE_JOB"
    # Renaming to its own name, or to a free one, still works.
    assert call(sqlite_api, "PATCH", f"/jobs/{mine}", json={"name": "mine-on-sqlite"}).status_code == 200
    assert call(sqlite_api, "PATCH", f"/jobs/{mine}", json={"name": "free-on-sqlite"}).status_code == 200


def test_uploading_under_a_taken_name_is_duplicate_job_on_sqlite(sqlite_api, files, media):
    assert call(sqlite_api, "POST", "/jobs", json={"name": "upload-on-sqlite",
                                                   "input_url": f"{files.url}/pic.png"}).status_code == 201
    response = call(sqlite_api, "POST", "/jobs/stream", params={"filename": "pic.png", "name": "upload-on-sqlite"},
                    data=media["pic.png"], headers={"Content-Type": "image/png"})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "DUPLICATE_JOB"
