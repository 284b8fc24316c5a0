"""Fixtures for the jobs tests: real media files served by a real local HTTP server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import media_factory as mf
from tests.httpservers import serve
from tests.jobs.buckets import PREFIX, Bucket
from tests.s3server import TcpProxy, storages_for

CONTENT_TYPES = {
    "pic.png": "image/png",
    "pic.jpg": "image/jpeg",
    "tone.wav": "audio/wav",
    "clip.mp4": "video/mp4",
    "doc.pdf": "application/pdf",
    "notes.txt": "text/plain",
    "garbage.bin": "application/octet-stream",
}


@pytest.fixture(autouse=True)
def _private_media_root(request, settings, tmp_path):
    """Stored inputs/outputs and scratch files of a test go to its own tmp
    directory (MEDIA_ROOT is shared by every test run in this tree). The e2e
    tests keep the shared one: their qcluster subprocess writes there."""
    if request.node.get_closest_marker("e2e") is None:
        settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, bytes]:
    """Small real files, made once per test session."""
    root = tmp_path_factory.mktemp("media")
    makers = {
        "pic.png": lambda p: mf.make_png(p),
        "pic.jpg": lambda p: mf.make_jpeg(p),
        "tone.wav": lambda p: mf.make_wav(p, seconds=0.5),
        "clip.mp4": lambda p: mf.make_mp4(p, seconds=0.5),
        "doc.pdf": lambda p: mf.make_pdf(p, ["Hello from page one"]),
        "notes.txt": lambda p: mf.make_txt(p, "Some notes.\n"),
        "garbage.bin": lambda p: mf.make_garbage(p),
    }
    return {name: Path(make(root / name)).read_bytes() for name, make in makers.items()}


@pytest.fixture(scope="session")
def files(media):
    """A local HTTP server with every file of `media` at /<name>.
    `files.url + "/pic.png"`; tests may add routes to `files.routes`."""
    routes = {f"/{name}": (200, {"Content-Type": CONTENT_TYPES[name]}, data) for name, data in media.items()}
    with serve(routes) as srv:
        yield srv


@pytest.fixture(scope="session")
def long_wav(tmp_path_factory) -> bytes:
    """60 s of audio: transcribing it takes seconds, long enough to cancel, time out or kill."""
    return Path(mf.make_wav(tmp_path_factory.mktemp("long") / "long.wav", seconds=60)).read_bytes()


@pytest.fixture
def children():
    """children.new(): processing children started during the test (see ChildWatch)."""
    from tests.jobs.helpers import ChildWatch

    return ChildWatch()


# Object storage (tests/jobs/test_object_storage*.py)

@pytest.fixture
def bucket(s3_server, settings) -> Bucket:
    """Job files in a fresh bucket of the test's own, under AIPROD_S3_PREFIX."""
    name = s3_server.create_bucket()
    settings.STORAGES = storages_for(s3_server.endpoint, name, prefix=PREFIX)
    return Bucket(client=s3_server.client(), name=name, endpoint=s3_server.endpoint)


@pytest.fixture
def flaky_bucket(s3_server, settings):
    """A bucket reached through a proxy the test can stop and start."""
    proxy = TcpProxy(s3_server.port).start()
    name = s3_server.create_bucket()
    settings.STORAGES = storages_for(proxy.endpoint, name, prefix=PREFIX)
    yield proxy, Bucket(client=s3_server.client(), name=name, endpoint=s3_server.endpoint)
    proxy.stop()


@pytest.fixture
def local_files(settings):
    """The local directory backend, whatever AIPROD_TEST_STORAGE says."""
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
