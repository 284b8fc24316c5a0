"""docs/errors.md lists every error code the code produces, with its status
and its message as the code words it.

tests/core/error_scan.py reads the project's sources (their syntax trees, not
their text) and collects each code's statuses and message patterns: the
constant text of each message, with a wildcard where a value is filled in.
A message the doc quotes (“…”, with `{name}`, `…` or `...` for a value, or an
example value) must fit one of the code's messages.
"""

from __future__ import annotations

import re

from tests.core.error_scan import ROOT, WILD, literal_chars, scan

DOC = ROOT / "docs" / "errors.md"
QUOTE = re.compile(r"“([^”]*)”")
INFORMATIVE = 8  # a message with fewer constant characters says nothing to check against


def _section(text: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/errors.md has no '## {heading}' section"
    return match.group(1)


def _rows(section: str) -> dict[str, list[str]]:
    """`CODE` → the cells of its table row after the code."""
    rows = {}
    for line in section.splitlines():
        match = re.match(r"^\|\s*`([A-Z0-9_]+)`\s*\|(.*)\|\s*$", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def documented() -> tuple[dict[str, set], set[str]]:
    text = DOC.read_text()
    api = {code: {int(s) for s in re.findall(r"\b[1-5]\d\d\b", cells[0])} or {None}
           for code, cells in _rows(_section(text, "API errors")).items()}
    job = set(_rows(_section(text, "Job failure codes")))
    return api, job


def quoted_messages() -> dict[str, dict[str, list[str]]]:
    """Per table, `CODE` → the messages its row quotes in its last cell."""
    text = DOC.read_text()
    found = {}
    for table, heading in (("api", "API errors"), ("job", "Job failure codes")):
        found[table] = {code: QUOTE.findall(cells[-1]) for code, cells in _rows(_section(text, heading)).items()}
    return found


def unquoted_text(cell: str) -> list[str]:
    """Straight-quoted text outside “…” and `code`: a message the test cannot see."""
    rest = re.sub(r"`[^`]*`", "", QUOTE.sub("", cell))
    return re.findall(r'"[^"]+"', rest)


def overlap(a: str, b: str) -> bool:
    """Whether some text fits both patterns (WILD: any text, on either side)."""
    reach = {(0, 0)}
    seen = set()
    while reach:
        i, j = reach.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == WILD:
            reach.add((i + 1, j))
            if j < len(b):
                reach.add((i, j + 1))
        if j < len(b) and b[j] == WILD:
            reach.add((i, j + 1))
            if i < len(a):
                reach.add((i + 1, j))
        if i < len(a) and j < len(b) and a[i] == b[j] != WILD:
            reach.add((i + 1, j + 1))
    return False


def fits(quote: str, messages: set[str]) -> bool:
    wanted = re.sub(r"\{[^{}]*\}|…|\.\.\.", WILD, quote)
    return any(overlap(wanted, message) for message in messages if literal_chars(message) >= INFORMATIVE)


def mismatches(quotes: dict[str, dict[str, list[str]]], found) -> list[str]:
    wrong = []
    for table, rows in quotes.items():
        for code, messages in rows.items():
            words = set(found.api_messages.get(code, ()))
            if table == "job":  # a failed download keeps its API wording (INVALID_URL)
                words |= found.job_messages.get(code, set())
            for quote in messages:
                if not fits(quote, words):
                    wrong.append(f"{table} {code}: “{quote}”")
            if not messages and any(literal_chars(m) >= INFORMATIVE for m in words):
                wrong.append(f"{table} {code}: quotes no message; the code says e.g. “{_example(words)}”")
    return wrong


def _example(words: set[str]) -> str:
    return max(sorted(words), key=literal_chars).replace(WILD, "{…}")


def test_the_scan_finds_the_codes_everyone_knows():
    found = scan()
    assert {401} <= found.api["MISSING_CREDENTIALS"]
    assert {422} <= found.api["QUOTA_EXCEEDED"]
    assert {503} <= found.api["STORAGE_UNAVAILABLE"]  # through `except StorageUnavailable as exc`
    assert {"TIMEOUT", "WORKER_LOST", "CORRUPT_INPUT", "OUTPUT_TOO_LARGE", "QUOTA_EXCEEDED"} <= found.job


def test_the_scan_reads_messages_through_helpers_and_caught_errors():
    found = scan()
    assert fits("This API key was revoked. Create a new one at Account → API Keys → New Key",
                found.api_messages["REVOKED_KEY"])  # _unauthorized(code, message)
    assert fits("Job job_1 is completed; only pending or processing jobs can be cancelled",
                found.api_messages["INVALID_STATE"])  # invalid_state(f"...")
    assert fits("Storage unavailable: could not reach the object store. Retry in a moment",
                found.api_messages["STORAGE_UNAVAILABLE"])  # StorageUnavailable(doing), caught and re-raised
    assert fits("Input URL resolves to a private address", found.api_messages["INVALID_URL"])  # core/outbound's words
    assert fits("Rate limit exceeded. Retry after 5 seconds", found.api_messages["RATE_LIMITED"])
    assert fits("Worker lost: gave up after 3 attempts", found.job_messages["WORKER_LOST"])


def test_a_reworded_message_in_the_doc_fails_the_check():
    found = scan()
    quotes = {"api": {"REVOKED_KEY": ["This API key was deleted. Create a new one"],
                      "QUOTA_EXCEEDED": ["Monthly job limit ({limit}) reached"]},
              "job": {"WORKER_LOST": ["Worker lost after {n} attempts"], "TIMEOUT": []}}
    wrong = mismatches(quotes, found)
    assert wrong[:3] == [
        "api REVOKED_KEY: “This API key was deleted. Create a new one”",
        "api QUOTA_EXCEEDED: “Monthly job limit ({limit}) reached”",
        "job WORKER_LOST: “Worker lost after {n} attempts”",
    ]
    assert len(wrong) == 4 and wrong[3].startswith("job TIMEOUT: quotes no message; the code says e.g. “")


def test_every_api_error_code_is_documented_with_its_status():
    found, (api_doc, _) = scan(), documented()
    missing = {code: sorted(found.api[code], key=str) for code in found.api if code not in api_doc}
    assert not missing, f"add these codes to docs/errors.md (API errors): {missing}"
    wrong = {code: (sorted(found.api[code], key=str), sorted(api_doc[code], key=str))
             for code in found.api if found.api[code] != api_doc[code]}
    assert not wrong, f"statuses differ (code: (the code's, the doc's)): {wrong}"


def test_the_doc_lists_no_api_error_code_that_nothing_produces():
    found, (api_doc, _) = scan(), documented()
    stale = sorted(set(api_doc) - set(found.api))
    assert not stale, f"docs/errors.md lists API codes nothing raises: {stale}"


def test_every_job_failure_code_is_documented():
    found, (_, job_doc) = scan(), documented()
    missing = sorted(found.job - job_doc)
    assert not missing, f"add these to docs/errors.md (Job failure codes): {missing}"


def test_the_doc_lists_no_job_failure_code_that_nothing_produces():
    found, (_, job_doc) = scan(), documented()
    # A download refused by the address policy keeps its API code (INVALID_URL).
    stale = sorted(job_doc - found.job - set(found.api))
    assert not stale, f"docs/errors.md lists job codes nothing produces: {stale}"


def test_every_message_the_doc_quotes_is_worded_as_the_code_words_it():
    wrong = mismatches(quoted_messages(), scan())
    assert not wrong, "docs/errors.md quotes messages the code does not produce:\n" + "\n".join(wrong)


def test_the_doc_quotes_messages_only_where_the_check_sees_them():
    text = DOC.read_text()
    hidden = [f"{code}: {unquoted_text(cells[-1])}"
              for heading in ("API errors", "Job failure codes")
              for code, cells in _rows(_section(text, heading)).items() if unquoted_text(cells[-1])]
    assert not hidden, "quote messages as “…” (straight quotes are not checked):\n" + "\n".join(hidden)
