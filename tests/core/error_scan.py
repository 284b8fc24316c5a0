"""Reads the project's sources (syntax trees, not text) and collects every
error code, its HTTP status and how the code words its message, for
tests/core/test_error_catalogue.py to hold docs/errors.md to.

Sites: `ApplicationError(status, "CODE", message)`, `error_response(request,
status, "CODE", message)`, `raise ApplicationError(status, exc.code,
exc.message)` inside `except SomeError as exc` (SomeError's code and the
messages it is built with); job failures: `ProcessingError("CODE", message)`
and subclasses' `super().__init__`, `code=`/`error_code=` keywords (with
`message=`/`error=`/`reason=`), `{"code": ..., "message": ...}`, a class's
`code`. A helper building one of these from its parameters (`_unauthorized`,
`invalid_state`, `StorageUnavailable(doing)`) is read again at each call with
its arguments. A message is a pattern: its constant text, WILD where a value
is filled in; names, constants, locals, small string functions
(`rate_limited_message`) and dataclass fields are followed.

core/outbound/ is read for its wording only: its `code`s are transport codes
(INPUT_FETCH_FAILED, DELIVERY_FAILED) that callers translate, while its
messages reach customers (`except OutboundError as exc: ... exc.message`).
"""

from __future__ import annotations

import ast
import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "aiprod", "core", "dashboard", "jobs", "ops", "quotas", "webhooks")
MESSAGES_ONLY = ("core", "outbound")  # transport codes, translated by callers; wording passed on
CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
API_CALLS = {"ApplicationError": (0, 1), "error_response": (1, 2)}  # (status index, code index)
JOB_CODE_KEYWORDS = {"code", "error_code"}
MESSAGE_KEYWORDS = ("message", "error", "reason")
WILD = "\x00"  # a value filled into a message
MAX_DEPTH = 6
MAX_PATTERNS = 64


def sources() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    paths = []
    for name in listed.stdout.split():
        parts = Path(name).parts
        if parts[0] in APPS and "migrations" not in parts and "tests" not in parts:
            paths.append(ROOT / name)
    return paths


def _name(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def literal_chars(pattern: str) -> int:
    return len(pattern.replace(WILD, "").strip())


@dataclass(frozen=True)
class Ctx:
    """Where an expression is read: its function, the arguments bound to that
    function's parameters (name -> (node, caller's Ctx), None: unbound), the
    exceptions caught around it, whether its codes count."""

    func: ast.AST | None = None
    env: dict = field(default_factory=dict)
    handlers: tuple[str, ...] = ()
    codes: bool = True
    depth: int = 0


class Scan:
    def __init__(self, trees: list[tuple[ast.AST, bool]]):
        self.trees = trees
        self.strings = self._constants(lambda text: True)
        self.constants = self._constants(CODE.match)
        self.functions: dict[str, list[ast.FunctionDef]] = defaultdict(list)
        self.classes: dict[str, ast.ClassDef] = {}
        self.assigned: dict[int, dict[str, list]] = {}  # id(func) -> name -> assigned values (None: +=)
        self.fields: dict[str, list[tuple[ast.AST, Ctx]]] = defaultdict(list)
        self._index()
        self.class_codes = self._class_codes()
        self.api: dict[str, set] = defaultdict(set)  # code -> statuses (None: not a literal)
        self.api_messages: dict[str, set[str]] = defaultdict(set)
        self.job: set[str] = set()
        self.job_messages: dict[str, set[str]] = defaultdict(set)
        self.raised: dict[str, set[str]] = defaultdict(set)  # exception class -> messages it is built with
        self.pool: set[str] = set()  # core/outbound's wording
        self._deferred: list[tuple[str, str, str]] = []  # (api|job, code, class whose messages it carries)
        for tree, codes in trees:
            self._visit(tree, Ctx(codes=codes))
        # QuotaExceeded and StorageUnavailable are raised in the job pipeline,
        # which fails the job with their code and message.
        for cls, code in self.class_codes.items():
            self.job.add(code)
            self._deferred.append(("job", code, cls))
        for table, code, cls in self._deferred:
            carried = self.pool if cls == "OutboundError" else self.raised[cls]
            (self.api_messages if table == "api" else self.job_messages)[code] |= carried

    # ------------------------------------------------------------------ indexes

    def _constants(self, keep) -> dict[str, str]:
        """Module-level string constants (those `keep` accepts) whose name means one text everywhere."""
        found: dict[str, set] = defaultdict(set)
        for tree, _ in self.trees:
            for node in tree.body:
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                        and isinstance(node.value.value, str):
                    for target in node.targets:
                        if isinstance(target, ast.Name) and keep(node.value.value):
                            found[target.id].add(node.value.value)
        return {name: values.pop() for name, values in found.items() if len(values) == 1}

    def _index(self) -> None:
        for calls in (False, True):  # classes first: a dataclass may be built before the scan meets it
            for tree, codes in self.trees:
                self._index_node(tree, Ctx(codes=codes), calls)

    def _index_node(self, node, ctx: Ctx, calls: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ctx = Ctx(func=node, codes=ctx.codes)
        if calls:
            if isinstance(node, ast.Call):
                self._index_call(node, ctx)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.functions[node.name].append(node)
            names: dict[str, list] = defaultdict(list)
            for inner in ast.walk(node):
                if isinstance(inner, ast.Assign):
                    for target in inner.targets:
                        if isinstance(target, ast.Name):
                            names[target.id].append(inner.value)
                elif isinstance(inner, ast.AugAssign) and isinstance(inner.target, ast.Name):
                    names[inner.target.id].append(None)  # built up step by step: not followed
            self.assigned[id(node)] = names
        elif isinstance(node, ast.ClassDef):
            self.classes[node.name] = node
            for item in node.body:  # `attr: str = "..."` / `attr = "..."`
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
                    self.fields[item.target.id].append((item.value, ctx))
        for child in ast.iter_child_nodes(node):
            self._index_node(child, ctx, calls)

    def _index_call(self, call: ast.Call, ctx: Ctx) -> None:
        for keyword in call.keywords:  # `output_too_large=...`: a field set by keyword
            if keyword.arg and keyword.arg not in ("message", "code"):
                self.fields[keyword.arg].append((keyword.value, ctx))
        cls = self.classes.get(_name(call.func) or "")
        if cls is not None:  # `.message` of a dataclass, built positionally or by keyword
            fields = [i.target.id for i in cls.body if isinstance(i, ast.AnnAssign) and isinstance(i.target, ast.Name)]
            values = dict(zip(fields, call.args)) | {k.arg: k.value for k in call.keywords if k.arg}
            if "message" in fields and "message" in values:
                self.fields[f"{cls.name}.message"].append((values["message"], ctx))

    def _class_codes(self) -> dict[str, str]:
        codes = {}
        for tree, counted in self.trees:
            if not counted:
                continue
            for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
                for node in ast.walk(cls):
                    if isinstance(node, ast.Assign) and any(_name(t) == "code" for t in node.targets):
                        code = self.code_of(node.value, Ctx())
                    elif self._is_super_init(node) and node.args:
                        code = self.code_of(node.args[0], Ctx())
                    else:
                        continue
                    if code:
                        codes[cls.name] = code
        return codes

    @staticmethod
    def _is_super_init(node) -> bool:
        return (isinstance(node, ast.Call) and _name(node.func) == "__init__"
                and isinstance(node.func.value, ast.Call) and _name(node.func.value.func) == "super")

    # ------------------------------------------------------------------ values

    def code_of(self, node, ctx: Ctx) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value if CODE.match(node.value) else None
        if isinstance(node, ast.Name) and node.id in ctx.env:
            bound = ctx.env[node.id]
            return self.code_of(bound[0], bound[1]) if bound else None
        name = _name(node)
        return self.constants.get(name) if name else None

    def codes_of(self, node, ctx: Ctx) -> set[str]:
        """A code, or the constant codes a small function returns (`_download_error_code(exc)`)."""
        code = self.code_of(node, ctx)
        if code or not isinstance(node, ast.Call):
            return {code} if code else set()
        funcs = self.functions.get(_name(node.func) or "", [])
        returns = [n.value for f in funcs[:1] for n in ast.walk(f) if isinstance(n, ast.Return)]
        return {c for c in (self.code_of(r, ctx) for r in returns) if c}

    def texts(self, node, ctx: Ctx) -> set[str]:
        """The patterns a string expression can take (WILD for a value)."""
        if node is None or ctx.depth > MAX_DEPTH:
            return {WILD}
        deeper = Ctx(ctx.func, ctx.env, ctx.handlers, ctx.codes, ctx.depth + 1)
        if isinstance(node, ast.Constant):
            return {node.value} if isinstance(node.value, str) else {WILD}
        if isinstance(node, ast.JoinedStr):
            found = {""}
            for part in node.values:
                pieces = {part.value} if isinstance(part, ast.Constant) else (
                    self.texts(part.value, deeper) if part.format_spec is None and part.conversion == -1 else {WILD})
                found = {a + b for a in found for b in pieces}
            return self._cap(found)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._cap({a + b for a in self.texts(node.left, deeper) for b in self.texts(node.right, deeper)})
        if isinstance(node, ast.IfExp):
            return self.texts(node.body, deeper) | self.texts(node.orelse, deeper)
        if isinstance(node, ast.BoolOp):
            return set().union(*(self.texts(v, deeper) for v in node.values))
        if isinstance(node, ast.Name):
            return self._name_texts(node.id, ctx, deeper)
        if isinstance(node, ast.Attribute):
            return self._attribute_texts(node, ctx, deeper)
        if isinstance(node, ast.Call):
            return self._call_texts(node, ctx, deeper)
        return {WILD}

    @staticmethod
    def _cap(found: set[str]) -> set[str]:
        return found if len(found) <= MAX_PATTERNS else {WILD}

    def _name_texts(self, name: str, ctx: Ctx, deeper: Ctx) -> set[str]:
        if name in ctx.env:
            bound = ctx.env[name]
            if bound is None:
                return {WILD}
            node, caller = bound
            return self.texts(node, Ctx(caller.func, caller.env, caller.handlers, caller.codes, deeper.depth))
        values = self.assigned.get(id(ctx.func), {}).get(name) if ctx.func is not None else None
        if values:
            if None in values:
                return {WILD}
            return set().union(*(self.texts(v, deeper) for v in values))
        if name in self.strings:
            return {self.strings[name]}
        return {WILD}

    def _attribute_texts(self, node: ast.Attribute, ctx: Ctx, deeper: Ctx) -> set[str]:
        if node.attr == "message" and isinstance(node.value, ast.Name) and ctx.handlers:
            return {WILD}  # `exc.message`: carried from the caught class (see _site)
        key = node.attr if node.attr != "message" else None
        sources = self.fields.get(key, []) if key else [
            pair for name, pairs in self.fields.items() if name.endswith(".message") for pair in pairs]
        if not sources or len(sources) > 8:
            return {WILD}
        found = set()
        for value, where in sources:
            found |= self.texts(value, Ctx(where.func, where.env, where.handlers, where.codes, deeper.depth))
        return found

    def _call_texts(self, call: ast.Call, ctx: Ctx, deeper: Ctx) -> set[str]:
        funcs = self.functions.get(_name(call.func) or "", [])
        if not funcs or len(funcs) > 3:
            return {WILD}
        found = set()
        for func in funcs:
            inner = Ctx(func, self._bind(func, call, ctx), (), ctx.codes, deeper.depth)
            returns = [n.value for n in ast.walk(func) if isinstance(n, ast.Return) and n.value is not None]
            for value in returns:
                found |= self.texts(value, inner)
        return self._cap(found) or {WILD}

    def _bind(self, func, call: ast.Call, ctx: Ctx, skip_self: bool = False) -> dict:
        params = [a.arg for a in func.args.posonlyargs + func.args.args]
        if skip_self or (params and params[0] in ("self", "cls")):
            params = params[1:]
        env: dict = {p: None for p in params + [a.arg for a in func.args.kwonlyargs]}
        defaults = func.args.defaults
        for param, default in zip(params[len(params) - len(defaults):], defaults):
            env[param] = (default, Ctx(func=func))
        for param, default in zip((a.arg for a in func.args.kwonlyargs), func.args.kw_defaults):
            if default is not None:
                env[param] = (default, Ctx(func=func))
        for param, arg in zip(params, call.args):
            env[param] = (arg, ctx)
        for keyword in call.keywords:
            if keyword.arg in env:
                env[keyword.arg] = (keyword.value, ctx)
        return env

    # ------------------------------------------------------------------ sites

    def _visit(self, node, ctx: Ctx) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not ctx.func:
            ctx = Ctx(func=node, handlers=ctx.handlers, codes=ctx.codes, depth=ctx.depth)
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            ctx = Ctx(ctx.func, ctx.env, tuple(filter(None, (_name(t) for t in types))), ctx.codes, ctx.depth)
        if isinstance(node, ast.Call):
            self._call(node, ctx)
        if isinstance(node, ast.Dict) and ctx.codes:
            entries = {k.value: v for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant)}
            if "code" in entries and self.code_of(entries["code"], ctx):
                self._site("job", self.code_of(entries["code"], ctx), entries.get("message"), ctx)
        if isinstance(node, ast.Assign) and ctx.env and isinstance(ctx.func, ast.FunctionDef) \
                and ctx.func.name == "__init__":
            for target in node.targets:  # `self.message = message` in an exception's __init__
                if isinstance(target, ast.Attribute) and target.attr == "message" and _name(target.value) == "self" \
                        and "__class__" in ctx.env:
                    self.raised[ctx.env["__class__"][0]] |= self.texts(node.value, ctx)
        for child in ast.iter_child_nodes(node):
            self._visit(child, ctx)

    def _site(self, table: str, code: str | None, message, ctx: Ctx, status=...) -> None:
        if code is None or not ctx.codes:
            return
        if table == "api":
            self.api[code].add(status)
        else:
            self.job.add(code)
        messages = self.api_messages if table == "api" else self.job_messages
        if isinstance(message, ast.Attribute) and message.attr == "message" and ctx.handlers:
            self._deferred.extend((table, code, caught) for caught in ctx.handlers)
        elif message is not None:
            messages[code] |= self.texts(message, ctx)

    def _call(self, call: ast.Call, ctx: Ctx) -> None:
        func = _name(call.func)
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        if func == "OutboundError" and call.args:
            self.pool |= self.texts(call.args[0], ctx)
        elif func in API_CALLS:
            status_at, code_at = API_CALLS[func]
            if len(call.args) > code_at:
                status_node, code_node = call.args[status_at], call.args[code_at]
                status = status_node.value if isinstance(status_node, ast.Constant) else None
                message = call.args[code_at + 1] if len(call.args) > code_at + 1 else keywords.get("message")
                code = self.code_of(code_node, ctx)
                if code is None and isinstance(code_node, ast.Attribute) and code_node.attr == "code":
                    for caught in ctx.handlers:  # raise ApplicationError(503, exc.code, exc.message)
                        if caught in self.class_codes:
                            self._site("api", self.class_codes[caught], message, Ctx(
                                ctx.func, ctx.env, (caught,), ctx.codes, ctx.depth), status)
                else:
                    self._site("api", code, message, ctx, status)
        elif func == "ProcessingError" and call.args:
            for code in self.codes_of(call.args[0], ctx):
                self._site("job", code, call.args[1] if len(call.args) > 1 else None, ctx)
        elif self._is_super_init(call) and call.args and "__class__" in ctx.env:
            cls = ctx.env["__class__"][0]  # a ProcessingError subclass: super().__init__(CODE, message)
            if len(call.args) > 1:
                self.raised[cls] |= self.texts(call.args[1], ctx)
                self._site("job", self.code_of(call.args[0], ctx), call.args[1], ctx)
        for name in JOB_CODE_KEYWORDS & set(keywords):
            message = next((keywords[k] for k in MESSAGE_KEYWORDS if k in keywords), None)
            self._site("job", self.code_of(keywords[name], ctx), message, ctx)
        self._follow(call, ctx)

    def _follow(self, call: ast.Call, ctx: Ctx) -> None:
        """Reads a helper that builds an error from its parameters again, with this call's arguments."""
        if ctx.depth >= 2:
            return
        name = _name(call.func) or ""
        if name in self.classes:
            funcs = [f for f in self.classes[name].body if isinstance(f, ast.FunctionDef) and f.name == "__init__"]
        else:
            funcs = self.functions.get(name, [])
        if len(funcs) != 1 or not self._builds_errors(funcs[0]):
            return
        func = funcs[0]
        env = self._bind(func, call, ctx)
        if name in self.classes:
            env["__class__"] = (name, None)
        for statement in func.body:
            self._visit(statement, Ctx(func, env, (), ctx.codes, ctx.depth + 2))

    def _builds_errors(self, func) -> bool:
        params = {a.arg for a in func.args.posonlyargs + func.args.args + func.args.kwonlyargs} - {"self"}
        for node in ast.walk(func):
            if isinstance(node, ast.Call) and (_name(node.func) in {*API_CALLS, "ProcessingError"}
                                               or self._is_super_init(node)):
                used = {n.id for arg in node.args for n in ast.walk(arg) if isinstance(n, ast.Name)}
                if used & params:
                    return True
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Attribute) and t.attr == "message" for t in node.targets) and func.name == "__init__":
                return True
        return False


def scan() -> Scan:
    trees = []
    for path in sources():
        counted = Path(path).relative_to(ROOT).parts[:2] != MESSAGES_ONLY
        trees.append((ast.parse(path.read_text(), filename=str(path)), counted))
    return Scan(trees)
