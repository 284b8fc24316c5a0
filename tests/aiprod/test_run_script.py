"""`make run` (scripts/run.sh) tells a newcomer in its banner whether http://
and local input/webhook URLs are allowed, and how to allow them. The banner's
`case` block is cut from the script and run by bash as it is, so a change to
the script's text is what is tested."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def banner(**env: str) -> str:
    script = (ROOT / "scripts" / "run.sh").read_text()
    block = re.search(r'^case "\$\{AIPROD_ALLOW_INSECURE_URLS:-\}" in$.*?^esac$', script, re.M | re.S)
    assert block, "scripts/run.sh no longer prints the AIPROD_ALLOW_INSECURE_URLS banner line"
    clean = {k: v for k, v in os.environ.items() if k != "AIPROD_ALLOW_INSECURE_URLS"}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block.group(0)], env={**clean, **env},
                            capture_output=True, text=True, timeout=30, check=True)
    return result.stdout


@pytest.mark.parametrize("value", ["1", "true", "yes", "on"])
def test_make_run_says_when_insecure_urls_are_allowed(value):
    assert banner(AIPROD_ALLOW_INSECURE_URLS=value).strip() == (
        "Input/webhook URLs: AIPROD_ALLOW_INSECURE_URLS=1, so http:// and local/private addresses are allowed "
        "(development only).")


@pytest.mark.parametrize("env", [{}, {"AIPROD_ALLOW_INSECURE_URLS": "0"}, {"AIPROD_ALLOW_INSECURE_URLS": ""}])
def test_make_run_says_how_to_allow_local_urls_when_they_are_off(env):
    text = banner(**env)
    assert text.startswith("Input/webhook URLs: HTTPS to public hosts only (AIPROD_ALLOW_INSECURE_URLS off)")
    assert "AIPROD_ALLOW_INSECURE_URLS=1 make run" in text and "POST /jobs/stream" in text
