"""The distribution as pip installed it (make's requirements.txt: -e ./clients/python)."""

from __future__ import annotations

from importlib.metadata import distribution
from pathlib import Path

import aiprod_client


def test_the_distribution_is_aiprod_client_with_the_aiprod_command_and_its_three_dependencies():
    dist = distribution("aiprod-client")
    assert dist.metadata["Name"] == "aiprod-client" and dist.version == aiprod_client.__version__
    [script] = [e for e in dist.entry_points if e.group == "console_scripts"]
    assert (script.name, script.value) == ("aiprod", "aiprod_client.cli:main")
    assert sorted(r.split(">")[0].split("<")[0].strip() for r in dist.requires) == ["click", "requests", "urllib3"]  # urllib3: Retry is imported directly


def test_the_package_is_typed_and_not_the_servers_package():
    package = Path(aiprod_client.__file__).parent
    assert (package / "py.typed").exists()
    assert package.name == "aiprod_client"
