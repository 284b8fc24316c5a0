"""docs/configuration.md lists every environment variable the project reads,
and nothing else; a bad value stops the process with a message naming the
variable.

What is read is found two ways: the names the settings' `env` was asked for
while importing them (aiprod/env.py records them), and a scan of the source,
the tests' included, for the reads outside the settings (os.environ, `${NAME}`
in the shell scripts). Variables read only by a library are checked against
that library's installed source."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from aiprod.env import Env, env, network
from tests.ops.test_deploy_checks import ROOT, production_env

DOCUMENT = ROOT / "docs" / "configuration.md"
PYTHON_SOURCES = [
    *(ROOT / app for app in ("aiprod", "core", "accounts", "quotas", "webhooks", "jobs", "dashboard", "ops")),
    ROOT / "clients" / "python" / "src",
    ROOT / "gunicorn.conf.py",
    ROOT / "manage.py",
    ROOT / "tests",  # the test harness's own knobs (AIPROD_FUZZ_SEED, CHAOS_SECONDS, ...)
]
SHELL_SOURCES = [ROOT / "scripts" / "run.sh", ROOT / "Procfile"]
# Read by a library, not by our code: the package whose source must name it.
LIBRARY_READS = {
    "Q_CLUSTER_NAME": "django_q",
    "AWS_ACCESS_KEY_ID": "botocore",
    "AWS_SECRET_ACCESS_KEY": "botocore",
    "AWS_PROFILE": "botocore",
    "PROMETHEUS_MULTIPROC_DIR": "prometheus_client",
}

NAME = r"([A-Z][A-Z0-9_]*)"
PYTHON_READS = [
    re.compile(rf"os\.environ\.(?:get|setdefault|pop)\(\s*[\"']{NAME}[\"']"),
    re.compile(rf"os\.environ\[\s*[\"']{NAME}[\"']\s*\]"),
    re.compile(rf"os\.getenv\(\s*[\"']{NAME}[\"']"),
    re.compile(rf"\benv(?:\.\w+)?\(\s*[\"']{NAME}[\"']"),
]
SHELL_READS = re.compile(rf"\$\{{{NAME}")  # ${NAME}, ${NAME:-default}
# A configuration name in prose; `$NAME` is a shell variable of an example.
MENTION = re.compile(r"(?<![$\w])((?:AIPROD|DJANGO)_[A-Z0-9_]*[A-Z0-9])\b")


def documented() -> set[str]:
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", DOCUMENT.read_text(), flags=re.MULTILINE))


def python_files():
    for source in PYTHON_SOURCES:
        yield from ([source] if source.is_file() else sorted(source.rglob("*.py")))


def read_in_python(path: Path) -> set[str]:
    text = path.read_text()
    return {name for pattern in PYTHON_READS for name in pattern.findall(text)}


def read_by_source() -> dict[str, set[str]]:
    """Variable -> the files that read it."""
    readers: dict[str, set[str]] = {}
    for path in python_files():
        for name in read_in_python(path):
            readers.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    for path in SHELL_SOURCES:
        for name in SHELL_READS.findall(path.read_text()):
            readers.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return readers


def asked_by_settings() -> set[str]:
    from django.conf import settings

    settings.DEBUG  # noqa: B018 - the settings are imported (pytest-django did it already)
    return set(env.names)


def test_every_variable_the_code_reads_is_documented():
    readers = read_by_source()
    read = set(readers) | asked_by_settings()
    missing = {name: sorted(readers.get(name, {"aiprod/settings.py"})) for name in read - documented()}
    assert not missing, f"read but not in docs/configuration.md: {missing}"


def test_every_documented_variable_is_read_by_something():
    read = set(read_by_source()) | asked_by_settings() | set(LIBRARY_READS)
    unread = documented() - read
    assert not unread, f"docs/configuration.md lists variables nothing reads: {sorted(unread)}"


@pytest.mark.parametrize("name, package", sorted(LIBRARY_READS.items()))
def test_a_variable_documented_as_read_by_a_library_is_named_in_its_source(name, package):
    spec = importlib.util.find_spec(package)
    sources = Path(spec.origin).parent.rglob("*.py")
    assert any(name in path.read_text(errors="replace") for path in sources), f"{package} does not read {name}"


def test_the_settings_read_every_variable_they_name_at_import_so_a_bad_value_stops_the_start():
    # A read inside an `if` would let a typo wait until that branch runs.
    named = read_in_python(ROOT / "aiprod" / "settings.py")
    assert named and named <= asked_by_settings(), sorted(named - asked_by_settings())


def doc_files():
    files = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*") if p.suffix in (".md", ".service", ".timer"))]
    for path in files:
        yield pytest.param(path, id=str(path.relative_to(ROOT)))


@pytest.mark.parametrize("path", list(doc_files()))
def test_the_readme_and_docs_name_only_documented_variables(path: Path):
    unknown = set(MENTION.findall(path.read_text())) - documented()
    assert not unknown, f"{path.relative_to(ROOT)} names variables docs/configuration.md does not list: {sorted(unknown)}"


# --------------------------------------------------------------------------- bad values


def start_settings(**variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import aiprod.settings"],
        cwd=ROOT, env=production_env(**variables), capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize("name, value, message", [
    ("AIPROD_Q_WORKERS", "two", "AIPROD_Q_WORKERS: 'two' is not an integer"),
    ("AIPROD_HTTPS", "ture", "AIPROD_HTTPS: 'ture' is not a boolean"),
    ("AIPROD_WEBHOOK_RETRY_SCHEDULE", "0,5,soon", "AIPROD_WEBHOOK_RETRY_SCHEDULE: 'soon' is not an integer"),
])
def test_a_bad_value_stops_the_start_with_a_message_naming_the_variable(name, value, message):
    proc = start_settings(**{name: value})
    assert proc.returncode != 0
    assert f"ImproperlyConfigured: {message}" in proc.stderr, proc.stderr
    assert proc.stderr.count("\n  File ") < 12, "a short traceback, not one from deep inside a library"


def test_the_documented_production_environment_starts():
    proc = start_settings()
    assert proc.returncode == 0, proc.stderr


def test_gunicorn_names_a_bad_thread_count():
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "--print-config", "aiprod.wsgi:application"],
        cwd=ROOT, env=production_env(GUNICORN_THREADS="eight"), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    assert "GUNICORN_THREADS: 'eight' is not an integer" in proc.stdout + proc.stderr


# --------------------------------------------------------------------------- how values read


def reader(**variables: str) -> Env:
    return Env(environ_map=variables)


def test_an_unset_or_empty_value_is_the_default_except_for_strings():
    values = reader(WORKERS="", NAME="", FLAG="")
    assert values.int("WORKERS", 2) == 2
    assert values.bool("FLAG", True) is True
    assert values.str("NAME", "aiprod-webhooks") == ""
    assert values.int("UNSET", 7) == 7 and values.str("UNSET", "x") == "x"


def test_booleans_take_the_usual_words_and_refuse_others():
    for word, meaning in [("1", True), ("TRUE", True), ("yes", True), ("On", True),
                          ("0", False), ("false", False), ("no", False), ("off", False)]:
        assert reader(FLAG=word).bool("FLAG", not meaning) is meaning
    with pytest.raises(ImproperlyConfigured, match=r"^FLAG: 'maybe' is not a boolean"):
        reader(FLAG="maybe").bool("FLAG", False)


def test_numbers_are_read_as_written_with_no_units():
    assert reader(POLL="0.2").float("POLL", 0.05) == 0.2
    with pytest.raises(ImproperlyConfigured, match=r"^POLL: '5s' is not a number$"):
        reader(POLL="5s").float("POLL", 0.05)


def test_lists_drop_spaces_and_empty_items_and_name_a_bad_item():
    assert reader(HOSTS=" a.example , b.example,,").list("HOSTS", default=[]) == ["a.example", "b.example"]
    assert [str(n) for n in reader(NETS="10.0.0.1/8, ::1").list("NETS", cast=network, default=[])] == ["10.0.0.0/8", "::1/128"]
    with pytest.raises(ImproperlyConfigured, match=r"^NETS: '10.0.0.0/33' is not an IP address or CIDR$"):
        reader(NETS="10.0.0.0/8,10.0.0.0/33").list("NETS", cast=network, default=[])


def test_a_value_starting_with_a_dollar_is_taken_as_written():
    assert reader(SECRET="$ecret-with-dollar", ecret="other").str("SECRET", "") == "$ecret-with-dollar"


def test_a_choice_is_compared_in_lower_case_and_names_the_choices():
    assert reader(FORMAT="JSON").choice("FORMAT", ("text", "json"), default="text") == "json"
    with pytest.raises(ImproperlyConfigured, match=r"^FORMAT: 'xml' is not one of: text, json$"):
        reader(FORMAT="xml").choice("FORMAT", ("text", "json"), default="text")


def test_the_reader_remembers_every_name_it_was_asked_for():
    values = reader(A="1")
    values.int("A", 0), values.str("B", "")
    assert values.names == {"A", "B"}
