"""document.extract_text: the text of a PDF, DOCX, TXT or JSON file, as UTF-8.

- PDF (pypdf): text per page; pages are separated by a form feed (``\\f``)
  in the text file, as ``pdftotext`` does. A PDF without a text layer (a
  scan) still completes, with ``text_layer: false`` and a ``warning``.
- DOCX (python-docx): paragraphs and tables in document order; table cells
  are separated by tabs, rows by newlines.
- TXT: the encoding is detected (BOM, UTF-8, then charset_normalizer).
- JSON: pretty-printed with two-space indentation.

Output: ``format``, ``char_count``, ``page_count`` (PDF only; null for the
others), ``pages`` (PDF only: the first 100 pages, each
with its number, char_count and up to 1000 characters), ``text_layer``,
``encoding`` (TXT/JSON) and ``warning`` (null unless something needs
attention).
"""

from __future__ import annotations

import json
import zipfile

from jobs.processing_errors import CORRUPT_INPUT, INPUT_TOO_LARGE, UNSUPPORTED_INPUT, ProcessingError
from jobs.processors.base import Input, Output, Processor, Progress, guard
from jobs.processors.params import ParamsSerializer


class DocumentExtractTextParams(ParamsSerializer):
    """document.extract_text takes no params."""


MAX_PDF_PAGES = 5_000
PAGES_LISTED = 100
PAGE_PREVIEW_CHARS = 1_000
# A DOCX is a zip: refuse zip bombs before python-docx inflates them.
MAX_DOCX_UNCOMPRESSED = 500 * 1024 * 1024
MAX_JSON_DEPTH_ERROR = "Invalid input: the JSON is nested too deeply"

SCANNED_PDF_WARNING = "No text layer found: this looks like a scanned PDF"


def run(source: Input, params: dict, progress: Progress) -> Output:
    extractors = {
        "pdf": _extract_pdf,
        "docx": _extract_docx,
        "txt": _extract_txt,
        "json": _extract_json,
    }
    with guard("this document"):
        text, facts = extractors[source.extension](source.path, progress)
    path = source.output_path("text.txt")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    output = {
        "format": source.extension,
        "page_count": None,
        "char_count": len(text),
        "text_layer": True,
        "warning": None,
        **facts,
    }
    return Output(output, file=path, content_type="text/plain; charset=utf-8")


# ----------------------------------------------------------------- PDF


def _extract_pdf(path: str, progress: Progress) -> tuple[str, dict]:
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            # Many PDFs are "encrypted" with an empty user password: they open fine.
            try:
                opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
            except (NotImplementedError, PdfReadError):  # unknown encryption scheme
                opened = False
            if not opened:
                raise ProcessingError(UNSUPPORTED_INPUT, "Unsupported input: the PDF is password-protected")
        page_count = len(reader.pages)
        if page_count > MAX_PDF_PAGES:
            raise ProcessingError(
                INPUT_TOO_LARGE, f"Input too large: the PDF has {page_count} pages; the limit is {MAX_PDF_PAGES}"
            )
        texts = []
        for index, page in enumerate(reader.pages):
            try:
                texts.append(_tidy(page.extract_text() or ""))
            except (PdfReadError, KeyError, ValueError, TypeError, AttributeError, IndexError):
                texts.append("")  # one damaged page does not lose the others
            progress(95 * (index + 1) / max(1, page_count))
    except ProcessingError:
        raise
    except RecursionError:
        raise ProcessingError(CORRUPT_INPUT, "Invalid input: the PDF structure is corrupt (too deeply nested)") from None
    except Exception as exc:  # pypdf raises many types on malformed files
        if isinstance(exc, MemoryError):
            raise
        raise ProcessingError(CORRUPT_INPUT, f"Invalid input: the PDF could not be read ({exc})") from None

    has_text = any(t.strip() for t in texts)
    if not has_text:
        texts = [""] * len(texts)
    facts = {
        "page_count": page_count,
        "pages": [
            {"page": i + 1, "char_count": len(t), "text": t[:PAGE_PREVIEW_CHARS]}
            for i, t in enumerate(texts[:PAGES_LISTED])
        ],
        "pages_truncated": page_count > PAGES_LISTED,
        "text_layer": has_text,
        "warning": None if has_text or page_count == 0 else SCANNED_PDF_WARNING,
    }
    return ("\f".join(texts) if has_text else ""), facts


def _tidy(text: str) -> str:
    # pypdf leaves trailing spaces and NULs from odd encodings.
    text = text.replace("\x00", "")
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


# ----------------------------------------------------------------- DOCX


def _extract_docx(path: str, progress: Progress) -> tuple[str, dict]:
    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(info.file_size for info in zf.infolist())
            if total > MAX_DOCX_UNCOMPRESSED:
                raise ProcessingError(
                    INPUT_TOO_LARGE,
                    f"Input too large: the DOCX unpacks to {total // (1024 * 1024)} MB; "
                    f"the limit is {MAX_DOCX_UNCOMPRESSED // (1024 * 1024)} MB",
                )
    except zipfile.BadZipFile as exc:
        raise ProcessingError(CORRUPT_INPUT, f"Invalid input: the DOCX could not be read ({exc})") from None

    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(path)
        progress(30)
        blocks = []
        body = document.element.body
        for child in body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                blocks.append(Paragraph(child, document).text)
            elif tag == "tbl":
                blocks.append(_table_text(Table(child, document)))
        progress(90)
    except Exception as exc:  # python-docx/lxml raise many types on malformed files
        if isinstance(exc, (MemoryError, ProcessingError)):
            raise
        raise ProcessingError(CORRUPT_INPUT, f"Invalid input: the DOCX could not be read ({exc})") from None
    # No page count: a DOCX has pages only once laid out, and the count some
    # writers store in docProps/app.xml is often stale (python-docx's template says 1).
    return "\n".join(blocks), {}


def _table_text(table) -> str:
    from docx.table import Table

    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is repeated for each grid column
                continue
            seen.add(id(cell._tc))
            parts = [p.text for p in cell.paragraphs]
            parts += [_table_text(Table(t, cell)) for t in cell._tc.tbl_lst]  # nested tables
            cells.append(" ".join(p for p in parts if p).replace("\t", " "))
        rows.append("\t".join(cells))
    return "\n".join(rows)


# ----------------------------------------------------------------- TXT / JSON


def _read_text(path: str) -> tuple[str, str]:
    """Decode a text file: BOM first, then UTF-8, then charset_normalizer's best guess."""
    with open(path, "rb") as f:
        data = f.read()
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding.replace("-sig", "")
            except UnicodeDecodeError:
                break
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    western = _as_windows_1252(data)
    if western is not None:
        return western, "cp1252"
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ProcessingError(CORRUPT_INPUT, "Invalid input: the text encoding could not be detected")
    return str(best), best.encoding


def _as_windows_1252(data: bytes) -> str | None:
    """Most non-UTF-8 text is Windows-1252/Latin-1, and charset_normalizer's guess on
    short samples often lands on a lookalike (cp1257 turns "crème" into "crčme").
    Take cp1252 when it decodes cleanly into text that does not look garbled
    (Cyrillic, Greek or Central European bytes read as cp1252 score high)."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    try:
        from charset_normalizer.md import mess_ratio
    except ImportError:  # internal helper; without it, fall back to the library's guess
        return None
    return text if mess_ratio(text[:100_000], 1.0) < 0.5 else None


def _extract_txt(path: str, progress: Progress) -> tuple[str, dict]:
    text, encoding = _read_text(path)
    return text, {"encoding": encoding}


def _extract_json(path: str, progress: Progress) -> tuple[str, dict]:
    text, encoding = _read_text(path)
    progress(30)
    try:
        data = json.loads(text)
    except RecursionError:
        raise ProcessingError(CORRUPT_INPUT, MAX_JSON_DEPTH_ERROR) from None
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise ProcessingError(CORRUPT_INPUT, f"Invalid input: the file is not valid JSON ({exc})") from None
    try:
        pretty = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    except RecursionError:
        raise ProcessingError(CORRUPT_INPUT, MAX_JSON_DEPTH_ERROR) from None
    return pretty, {"encoding": encoding}


PROCESSOR = Processor(
    type="document.extract_text",
    input_kinds={"document"},
    timeout_class="short",
    params=DocumentExtractTextParams,
    run=run,
)
