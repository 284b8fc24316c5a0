"""Without DJANGO_SECRET_KEY the service refuses to start unless debug is on;
`check --deploy` names a missing, default or weak secret; `make run` keeps a
generated one per checkout."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from tests.ops.test_deploy_checks import ROOT, check_deploy, manage, production_env


def test_without_a_secret_and_debug_off_nothing_starts_and_the_message_says_what_to_set():
    code, output = manage(production_env(DJANGO_SECRET_KEY=None), "check")
    assert code != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY is not set" in output, output
    assert "DJANGO_DEBUG=1" in output


def test_an_empty_secret_counts_as_none():
    code, output = manage(production_env(DJANGO_SECRET_KEY=""), "check")
    assert code != 0 and "DJANGO_SECRET_KEY is not set" in output, output


def test_the_wsgi_application_does_not_load_without_a_secret():
    env = production_env(DJANGO_SECRET_KEY=None)
    proc = subprocess.run(
        [sys.executable, "-c", "import aiprod.wsgi"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0 and "DJANGO_SECRET_KEY is not set" in proc.stderr, proc.stderr


def test_a_debug_run_starts_on_the_development_key_which_the_deploy_check_reports():
    code, output = manage(production_env(DJANGO_SECRET_KEY=None, DJANGO_DEBUG="1"), "check")
    assert code == 0, output
    code, output, issues = check_deploy(DJANGO_SECRET_KEY=None, DJANGO_DEBUG="1")
    assert code != 0, output  # an error, so a deploy script gating on it stops
    assert {"aiprod.E001", "security.W009"} <= issues, output
    assert "DJANGO_SECRET_KEY is not set" in output


def test_the_deploy_check_reports_a_weak_secret():
    _, output, issues = check_deploy(DJANGO_SECRET_KEY="changeme")
    assert "security.W009" in issues, output
    assert "aiprod.E001" not in issues


def test_make_run_generates_a_secret_once_and_keeps_it_private(tmp_path: Path):
    file = tmp_path / "var" / "secret_key"
    first = subprocess.run(["bash", str(ROOT / "scripts" / "local-secret.sh"), str(file)],
                           capture_output=True, text=True, check=True).stdout.strip()
    again = subprocess.run(["bash", str(ROOT / "scripts" / "local-secret.sh"), str(file)],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert len(first) >= 50 and first == again
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    code, output = manage(production_env(DJANGO_SECRET_KEY=first), "check", "--deploy")
    assert "security.W009" not in output and "aiprod.E001" not in output, output


def test_make_run_keeps_its_secret_in_an_ignored_file_and_uses_it():
    ignored = subprocess.run(["git", "check-ignore", "-q", "var/secret_key"], cwd=ROOT)
    assert ignored.returncode == 0
    run_sh = (ROOT / "scripts" / "run.sh").read_text()
    uses = run_sh.index("scripts/local-secret.sh var/secret_key")
    assert uses < run_sh.index("manage.py migrate")
