"""The documentation stands on its own: every relative link in README.md and
docs/ leads to a file (and heading) of the repository, and nothing in the
repository points at documents outside it, which customers and new engineers
do not have."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
# "the guide": a customer troubleshooting guide that is not in the repository;
# docs/troubleshooting.md and the other docs/ files carry what it said.
OUTSIDE = ("SPEC §", "SPEC.md", "../shared", "the guide")
THIS_RULE = {"tests/core/test_docs_links.py"}


def _tracked() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [name for name in listed.stdout.splitlines() if (ROOT / name).is_file()]


def _documents() -> list[Path]:
    return [ROOT / "README.md", ROOT / "clients" / "python" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]", lambda m: "_" if m.group() == "_" else "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", text, re.M)}


def _relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    targets = [a or b for a, b in LINK.findall(text)]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def test_every_relative_link_in_the_docs_points_at_an_existing_file_and_heading():
    broken = []
    for doc in _documents():
        for target in _relative_links(doc):
            name, _, anchor = target.partition("#")
            linked = (doc.parent / name).resolve() if name else doc
            if not linked.exists() or ROOT not in linked.parents and linked != ROOT:
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_docs_index_lists_every_document():
    index = (ROOT / "docs" / "README.md").read_text()
    missing = [p.name for p in (ROOT / "docs").glob("*.md") if p.name != "README.md" and f"({p.name})" not in index]
    assert not missing, f"docs/README.md does not link {missing}"


def test_no_file_in_the_repository_refers_to_documents_outside_it():
    found = []
    for name in _tracked():
        if name in THIS_RULE:
            continue
        try:
            text = (ROOT / name).read_text()
        except (UnicodeDecodeError, OSError):
            continue  # binary files (screenshots, fixtures)
        for number, line in enumerate(text.splitlines(), 1):
            if any(marker.lower() in line.lower() for marker in OUTSIDE):
                found.append(f"{name}:{number}: {line.strip()[:100]}")
    assert not found, "refer to docs/ or say the reason in place:\n" + "\n".join(found)
