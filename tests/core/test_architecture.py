"""The shape of the code base, checked on every run: one-way layers
(import-linter, contract in .importlinter), every third-party import declared
(deptry, configured in pyproject.toml), and small modules. docs/architecture.md
explains the rule."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MAX_MODULE_LINES = 400
LAYERS = ["aiprod", "dashboard | ops", "jobs", "webhooks", "quotas", "accounts", "core"]


def _run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_layers_contract_is_the_documented_rule():
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    layers = config["importlinter:contract:layers"]
    assert layers["type"] == "layers"
    assert layers["layers"].split() == " ".join(LAYERS).split()
    assert config["importlinter:contract:independence"]["modules"].split() == ["dashboard", "ops"]
    assert config["importlinter:contract:acyclic"]["type"] == "acyclic_siblings"


def test_imports_run_one_way_and_no_package_has_an_import_cycle():
    result = _run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_requirements_declare_every_third_party_import():
    for directory in (ROOT, ROOT / "clients" / "python"):
        result = _run(str(BIN / "deptry"), ".", cwd=directory)
        assert result.returncode == 0, f"{directory}:\n{result.stdout}{result.stderr}"


def test_no_module_is_over_400_lines():
    tracked = _run("git", "ls-files", "*.py").stdout.split()
    sizes = {name: len((ROOT / name).read_text().splitlines()) for name in tracked if "/migrations/" not in name}
    assert {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES} == {}
