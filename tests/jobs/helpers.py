"""Helpers shared by the jobs tests."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

_names = itertools.count(1)


def unique_name(prefix: str = "job") -> str:
    return f"{prefix} {next(_names)}"


def create_job(api, files_server, filename: str = "pic.png", headers=None, **body):
    payload = {"name": unique_name(), "input_url": f"{files_server.url}/{filename}", **body}
    return api.post("/jobs", payload, headers=headers)


def created(response) -> dict:
    assert response.status_code == 201, response.content
    return response.json()


def children_of_this_process() -> list[int]:
    me = str(os.getpid())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = stat.rsplit(")", 1)[1].split()[1]
        if ppid == me:
            found.append(int(entry))
    return found


class ChildWatch:
    """Child processes of this process started after it was created (other
    tests may leave their own subprocesses running: they are not ours)."""

    def __init__(self):
        self.before = set(children_of_this_process())

    def new(self) -> list[int]:
        return sorted(set(children_of_this_process()) - self.before)


def downloaded(response) -> bytes:
    """The bytes of a GET /jobs/{id}/output answer: streamed (local storage)
    or behind a 302 to a presigned URL (object storage)."""
    import requests

    if response.status_code == 302:
        fetched = requests.get(response["Location"], timeout=10)
        assert fetched.status_code == 200, fetched.text
        return fetched.content
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)
