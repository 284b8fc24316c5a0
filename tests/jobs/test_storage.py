"""The storage seam (jobs.services.storage)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from jobs.services import storage


@pytest.fixture
def stored(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return default_storage.save("jobs/job_x/input.png", ContentFile(b"bytes"))


def test_local_copy_gives_a_path_with_the_stored_bytes(stored, tmp_path):
    with storage.local_copy(stored, str(tmp_path)) as path:
        with open(path, "rb") as f:
            assert f.read() == b"bytes"


def test_an_exception_raised_inside_local_copy_reaches_the_caller_as_itself(stored, tmp_path):
    with pytest.raises(ValueError, match="the caller's own error"):
        with storage.local_copy(stored, str(tmp_path)):
            raise ValueError("the caller's own error")
