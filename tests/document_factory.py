"""Real documents (PDF by hand, DOCX with python-docx, text, JSON) and broken
inputs (truncated, corrupt, garbage) for tests; see tests/media_factory.py."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

PathLike = str | os.PathLike

# --------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(path: PathLike, pages_text: list[str] | None = None) -> str:
    """A PDF with one page per string, each drawn in Helvetica (a real text layer).

    Use ``\\n`` inside a string for several lines. An empty string makes a
    page with no text at all.
    """
    pages_text = ["Hello PDF"] if pages_text is None else pages_text
    contents = []
    for text in pages_text:
        lines = text.split("\n") if text else []
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            ops.append(f"({_pdf_escape(line)}) Tj T*")
        ops.append("ET")
        contents.append("\n".join(ops).encode("latin-1"))
    return _write_pdf(path, contents, font=True)


def make_scanned_pdf(path: PathLike, pages: int = 2) -> str:
    """A PDF whose pages only draw shapes (like a scan): no text layer."""
    contents = [b"0.5 g 72 600 200 100 re f 0 G 72 500 m 300 520 l S" for _ in range(pages)]
    return _write_pdf(path, contents, font=False)


def _write_pdf(path: PathLike, contents: list[bytes], font: bool) -> str:
    n = len(contents)
    # Object numbers: 1 catalog, 2 pages, 3 font, then (page, content) pairs.
    objs: dict[int, bytes] = {}
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objs[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objs[2] = f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode()
    objs[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    for i, content in enumerate(contents):
        page_no, content_no = 4 + 2 * i, 5 + 2 * i
        resources = "/Resources << /Font << /F1 3 0 R >> >>" if font else "/Resources << >>"
        objs[page_no] = (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] {resources} "
                         f"/Contents {content_no} 0 R >>").encode()
        objs[content_no] = b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objs):
        offsets[num] = out.tell()
        out.write(b"%d 0 obj\n" % num + objs[num] + b"\nendobj\n")
    xref = out.tell()
    size = max(objs) + 1
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for num in range(1, size):
        out.write(b"%010d 00000 n \n" % offsets[num])
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref))
    Path(path).write_bytes(out.getvalue())
    return str(path)


def make_docx(path: PathLike, paragraphs: list[str] | None = None,
              table: list[list[str]] | None = None) -> str:
    """A DOCX (python-docx) with a heading, ``paragraphs`` and, if given, a table after them."""
    import docx

    paragraphs = ["First paragraph.", "Second paragraph."] if paragraphs is None else paragraphs
    document = docx.Document()
    document.add_heading("Test Document", level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        t = document.add_table(rows=len(table), cols=max(len(r) for r in table))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value
    document.add_paragraph("The end.")
    document.save(str(path))
    return str(path)


def make_txt(path: PathLike, text: str = "Hello, world.\n", encoding: str = "utf-8") -> str:
    Path(path).write_bytes(text.encode(encoding))
    return str(path)


def make_json(path: PathLike, data=None) -> str:
    data = {"name": "Zoë", "items": [1, 2, 3], "nested": {"ok": True}} if data is None else data
    Path(path).write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------
# Broken inputs
# --------------------------------------------------------------------------


def make_truncated(src: PathLike, dest: PathLike, keep: float = 0.5) -> str:
    """Copy the first ``keep`` fraction of ``src`` to ``dest``."""
    data = Path(src).read_bytes()
    Path(dest).write_bytes(data[: max(1, int(len(data) * keep))])
    return str(dest)


def make_corrupt(src: PathLike, dest: PathLike, keep_header: int = 32, seed: int = 1) -> str:
    """Copy ``src`` keeping its first ``keep_header`` bytes (so it still sniffs as
    the same kind) and replacing the rest with pseudo-random garbage."""
    import random

    data = Path(src).read_bytes()
    rnd = random.Random(seed)
    garbage = bytes(rnd.getrandbits(8) for _ in range(max(0, len(data) - keep_header)))
    Path(dest).write_bytes(data[:keep_header] + garbage)
    return str(dest)


def make_garbage(path: PathLike, size: int = 4096, seed: int = 2) -> str:
    """Random bytes: no format at all."""
    import random

    rnd = random.Random(seed)
    Path(path).write_bytes(bytes(rnd.getrandbits(8) for _ in range(size)))
    return str(path)
