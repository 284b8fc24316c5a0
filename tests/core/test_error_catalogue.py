"""docs/errors.md lists every error code the code produces, with its status.

The codes are not kept in one table in the code, so this test reads the
project's sources (their syntax trees, not their text) and collects:

- API errors: `ApplicationError(status, "CODE", ...)`, `error_response(request,
  status, "CODE", ...)`, helpers that wrap one of them with a fixed status
  (`_unauthorized("CODE", ...)` → 401), and `raise ApplicationError(status,
  exc.code, ...)` inside `except SomeError as exc` (the code of SomeError);
- job failure codes (a failed job's `error_code`): `ProcessingError("CODE",
  ...)`, `code=`/`error_code=` keywords, `{"code": ...}` results, an exception
  class's `code` attribute or the code its `__init__` passes on.

Codes given as module constants (`TIMEOUT = "TIMEOUT"`, `transitions.TIMEOUT`)
are resolved. Internal transport codes of the outbound HTTP guard are left
out: callers translate them into the codes above.
"""

from __future__ import annotations

import ast
import re
import subprocess
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "errors.md"
APPS = ("accounts", "aiprod", "core", "dashboard", "jobs", "ops", "quotas", "webhooks")
CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
API_CALLS = {"ApplicationError": (0, 1), "error_response": (1, 2)}  # (status index, code index)
JOB_CODE_KEYWORDS = {"code", "error_code"}


def _sources() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    paths = []
    for name in listed.stdout.split():
        parts = Path(name).parts
        if parts[0] not in APPS or "migrations" in parts or "tests" in parts:
            continue
        if parts[:2] in {("core", "outbound.py"), ("core", "outbound")}:
            continue  # transport codes, translated by callers
        paths.append(ROOT / name)
    return paths


def _name(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


class Scan:
    def __init__(self, trees: list[ast.AST]):
        self.trees = trees
        self.constants = self._constants()
        self.class_codes = self._class_codes()
        self.wrappers = self._wrappers()
        self.api: dict[str, set] = defaultdict(set)  # code -> statuses (None: not a literal)
        self.job: set[str] = set()
        for tree in trees:
            self._visit(tree, handler_types=())
        # QuotaExceeded and StorageUnavailable are raised in the job pipeline,
        # which fails the job with their code.
        self.job |= set(self.class_codes.values())

    def code_of(self, node) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value if CODE.match(node.value) else None
        name = _name(node)
        return self.constants.get(name) if name else None

    def _constants(self) -> dict[str, str]:
        found: dict[str, set] = defaultdict(set)
        for tree in self.trees:
            for node in tree.body:
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                    value = node.value.value
                    for target in node.targets:
                        if isinstance(target, ast.Name) and isinstance(value, str) and CODE.match(value):
                            found[target.id].add(value)
        return {name: values.pop() for name, values in found.items() if len(values) == 1}

    def _class_codes(self) -> dict[str, str]:
        codes = {}
        for tree in self.trees:
            for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
                for node in ast.walk(cls):
                    if isinstance(node, ast.Assign) and any(_name(t) == "code" for t in node.targets):
                        code = self.code_of(node.value)
                    elif (isinstance(node, ast.Call) and _name(node.func) == "__init__"
                          and isinstance(node.func.value, ast.Call) and _name(node.func.value.func) == "super"
                          and node.args):
                        code = self.code_of(node.args[0])
                    else:
                        continue
                    if code:
                        codes[cls.name] = code
        return codes

    def _wrappers(self) -> dict[str, tuple[int, int]]:
        """Functions returning ApplicationError(<literal status>, <their parameter>, ...)."""
        wrappers = {}
        for tree in self.trees:
            for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
                params = [a.arg for a in func.args.args]
                for call in (n for n in ast.walk(func) if isinstance(n, ast.Call)):
                    if _name(call.func) == "ApplicationError" and len(call.args) >= 2:
                        status, code = call.args[0], call.args[1]
                        if isinstance(status, ast.Constant) and isinstance(code, ast.Name) and code.id in params:
                            wrappers[func.name] = (status.value, params.index(code.id))
        return wrappers

    def _visit(self, node, handler_types: tuple[str, ...]) -> None:
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            handler_types = tuple(filter(None, (_name(t) for t in types)))
        if isinstance(node, ast.Call):
            self._call(node, handler_types)
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "code" and self.code_of(value):
                    self.job.add(self.code_of(value))
        for child in ast.iter_child_nodes(node):
            self._visit(child, handler_types)

    def _call(self, call: ast.Call, handler_types: tuple[str, ...]) -> None:
        func = _name(call.func)
        if func in API_CALLS:
            status_at, code_at = API_CALLS[func]
            if len(call.args) > code_at:
                status_node, code_node = call.args[status_at], call.args[code_at]
                status = status_node.value if isinstance(status_node, ast.Constant) else None
                code = self.code_of(code_node)
                if code is None and isinstance(code_node, ast.Attribute) and code_node.attr == "code":
                    for caught in handler_types:  # raise ApplicationError(503, exc.code, ...)
                        if caught in self.class_codes:
                            self.api[self.class_codes[caught]].add(status)
                elif code:
                    self.api[code].add(status)
        elif func in self.wrappers:
            status, index = self.wrappers[func]
            if len(call.args) > index and self.code_of(call.args[index]):
                self.api[self.code_of(call.args[index])].add(status)
        elif func == "ProcessingError" and call.args and self.code_of(call.args[0]):
            self.job.add(self.code_of(call.args[0]))
        for keyword in call.keywords:
            if keyword.arg in JOB_CODE_KEYWORDS and self.code_of(keyword.value):
                self.job.add(self.code_of(keyword.value))


def scan() -> Scan:
    return Scan([ast.parse(path.read_text(), filename=str(path)) for path in _sources()])


def _section(text: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/errors.md has no '## {heading}' section"
    return match.group(1)


def _rows(section: str) -> dict[str, str]:
    """`CODE` → the second cell of its table row."""
    rows = {}
    for line in section.splitlines():
        match = re.match(r"^\|\s*`([A-Z0-9_]+)`\s*\|([^|]*)\|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def documented() -> tuple[dict[str, set], set[str]]:
    text = DOC.read_text()
    api = {code: {int(s) for s in re.findall(r"\b[1-5]\d\d\b", cell)} or {None}
           for code, cell in _rows(_section(text, "API errors")).items()}
    job = set(_rows(_section(text, "Job failure codes")))
    return api, job


def test_the_scan_finds_the_codes_everyone_knows():
    found = scan()
    assert {401} <= found.api["MISSING_CREDENTIALS"]
    assert {422} <= found.api["QUOTA_EXCEEDED"]
    assert {503} <= found.api["STORAGE_UNAVAILABLE"]  # through `except StorageUnavailable as exc`
    assert {"TIMEOUT", "WORKER_LOST", "CORRUPT_INPUT", "OUTPUT_TOO_LARGE", "QUOTA_EXCEEDED"} <= found.job


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
