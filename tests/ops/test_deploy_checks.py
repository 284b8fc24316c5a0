"""`manage.py check --deploy` with the documented production environment
(README, Configuration: DJANGO_DEBUG=0, a real DJANGO_SECRET_KEY,
AIPROD_HTTPS=1, REDIS_URL, a PostgreSQL DATABASE_URL) reports nothing.

Silenced, with the reason in aiprod/settings.py: security.W021 (HSTS preload),
which commits the whole registrable domain to HTTPS in browsers' built-in
lists; only the domain's owner can opt in (AIPROD_HSTS_PRELOAD=1).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]


def production_env(**extra: str | None) -> dict[str, str]:
    """The documented production environment (README, Configuration), with
    ``extra`` on top; a None value removes the variable."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "AIPROD_")) and key not in ("REDIS_URL",)
    }
    env.update(dict(
        DJANGO_SETTINGS_MODULE="aiprod.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="k3y-" + "q8Zr2vLm9XwT4pNf7Hc1Bd6Gs0Jy5Ek" * 2,
        DJANGO_ALLOWED_HOSTS="api.aiprod.example",
        AIPROD_HTTPS="1",
        DATABASE_URL=os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/aiprod",
        REDIS_URL="redis://127.0.0.1:6379/0",
    ))
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def manage(env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    return proc.returncode, proc.stdout + proc.stderr


def check_deploy(**extra: str | None) -> tuple[int, str, set[str]]:
    code, output = manage(production_env(**extra), "check", "--deploy")
    return code, output, set(re.findall(r"\(([\w.]+\.[EW]\d+)\)", output))


def test_the_documented_production_environment_passes_the_deploy_check_with_no_issues():
    code, output, issues = check_deploy()
    assert code == 0, output
    assert issues == set() and "no issues (1 silenced)" in output, output


def test_with_the_preload_opt_in_and_a_proxy_the_deploy_check_is_still_clean():
    code, output, issues = check_deploy(AIPROD_HSTS_PRELOAD="1", AIPROD_TRUSTED_PROXIES="10.0.0.0/8")
    assert code == 0, output
    assert issues == set() and "no issues" in output, output


def test_without_the_https_switch_the_deploy_check_says_what_is_missing():
    _, output, issues = check_deploy(AIPROD_HTTPS="0")
    assert issues == {"security.W004", "security.W008", "security.W012", "security.W016"}, output


def test_turning_include_subdomains_off_is_reported():
    _, output, issues = check_deploy(AIPROD_HSTS_INCLUDE_SUBDOMAINS="0")
    assert issues == {"security.W005"}, output


def test_without_redis_or_postgresql_the_deploy_check_says_so():
    _, output, issues = check_deploy(REDIS_URL=None, DATABASE_URL="sqlite:////tmp/aiprod-deploy-check.sqlite3")
    # aiprod.W003 says it once; django-ratelimit's W001 about the same cache is silenced without Redis.
    assert issues == {"aiprod.W003", "aiprod.W004"}, output
    assert "REDIS_URL is not set" in output and "not PostgreSQL" in output
