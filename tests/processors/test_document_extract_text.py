import json

import pytest

from jobs.processors import document_extract_text
from jobs.processors import ProcessingError
from tests import media_factory as mf


def text_of(result) -> str:
    return result.file.read_text(encoding="utf-8")


def test_it_extracts_pdf_text_page_by_page(run, tmp_path):
    pdf = mf.make_pdf(tmp_path / "doc.pdf", ["Hello page one\nsecond line", "Page two (with parens)"])
    result = run("document.extract_text", pdf)
    out = result.output
    assert text_of(result) == "Hello page one\nsecond line\fPage two (with parens)"
    assert (out["format"], out["page_count"], out["text_layer"], out["warning"]) == ("pdf", 2, True, None)
    assert out["char_count"] == len(text_of(result))
    assert out["pages"] == [
        {"page": 1, "char_count": 26, "text": "Hello page one\nsecond line"},
        {"page": 2, "char_count": 22, "text": "Page two (with parens)"},
    ]
    assert result.result.content_type == "text/plain; charset=utf-8"


def test_the_page_list_is_capped_but_the_text_is_complete(run, tmp_path):
    pdf = mf.make_pdf(tmp_path / "long.pdf", [f"Page {i}" for i in range(1, 106)])
    result = run("document.extract_text", pdf)
    assert result.output["page_count"] == 105
    assert len(result.output["pages"]) == 100 and result.output["pages_truncated"] is True
    assert text_of(result).split("\f")[-1] == "Page 105"


def test_a_scanned_pdf_completes_with_a_warning_instead_of_silence(run, tmp_path):
    result = run("document.extract_text", mf.make_scanned_pdf(tmp_path / "scan.pdf", pages=3))
    out = result.output
    assert (out["page_count"], out["char_count"], out["text_layer"]) == (3, 0, False)
    assert out["warning"] == "No text layer found: this looks like a scanned PDF"


def test_a_password_protected_pdf_is_unsupported_but_an_empty_password_is_fine(run, tmp_path):
    from pypdf import PdfWriter

    src = mf.make_pdf(tmp_path / "doc.pdf", ["Secret text"])
    for password, expected in (("hunter2", None), ("", "Secret text")):
        writer = PdfWriter(clone_from=src)
        writer.encrypt(password)
        path = tmp_path / f"enc-{password or 'empty'}.pdf"
        writer.write(path)
        if expected is None:
            with pytest.raises(ProcessingError) as info:
                run("document.extract_text", path)
            assert info.value.code == "UNSUPPORTED_INPUT" and "password" in info.value.message
        else:
            assert text_of(run("document.extract_text", path)) == expected


def test_it_extracts_docx_paragraphs_and_tables_in_document_order(run, tmp_path):
    docx = mf.make_docx(tmp_path / "doc.docx", ["Alpha paragraph.", "Beta paragraph."],
                        table=[["Name", "Qty"], ["Apple", "3"]])
    result = run("document.extract_text", docx)
    assert text_of(result) == "Test Document\nAlpha paragraph.\nBeta paragraph.\nName\tQty\nApple\t3\nThe end."
    assert result.output["format"] == "docx"
    assert result.output["char_count"] == len(text_of(result))


def test_a_docx_that_unpacks_too_large_is_refused(run, tmp_path, monkeypatch):
    monkeypatch.setattr(document_extract_text, "MAX_DOCX_UNCOMPRESSED", 10_000)
    with pytest.raises(ProcessingError) as info:
        run("document.extract_text", mf.make_docx(tmp_path / "doc.docx"))
    assert info.value.code == "INPUT_TOO_LARGE"


@pytest.mark.parametrize("text,encoding,reported", [
    ("Zoë says ✓ — naïve café\n", "utf-8", "utf-8"),
    ("Café crème déjà vu, à bientôt.\n", "latin-1", "cp1252"),
    ("Привет, мир! Это проверка кодировки текста.\n", "cp1251", "cp1251"),
    ("Hello in UTF-16 ünïcode\n", "utf-16", "utf-16"),
])
def test_it_detects_the_text_encoding_and_writes_utf8(run, tmp_path, text, encoding, reported):
    result = run("document.extract_text", mf.make_txt(tmp_path / "notes.txt", text, encoding))
    assert text_of(result) == text
    assert result.output["encoding"] == reported
    assert (result.output["format"], result.output["page_count"]) == ("txt", None)


def test_it_pretty_prints_json(run, tmp_path):
    result = run("document.extract_text", mf.make_json(tmp_path / "data.json", {"b": [1, 2], "a": "Zoë"}))
    assert text_of(result) == '{\n  "b": [\n    1,\n    2\n  ],\n  "a": "Zoë"\n}\n'
    assert json.loads(text_of(result)) == {"b": [1, 2], "a": "Zoë"}
    assert result.output["format"] == "json"


@pytest.mark.parametrize("body", ['{"a": [1, 2,', "[" * 100_000 + "]" * 100_000])
def test_invalid_or_absurdly_nested_json_is_corrupt_input(run, tmp_path, body):
    path = mf.make_txt(tmp_path / "data.json", body)
    with pytest.raises(ProcessingError) as info:
        run("document.extract_text", path, content_type="application/json")
    assert info.value.code == "CORRUPT_INPUT"


@pytest.mark.parametrize("name,make", [
    ("doc.pdf", lambda p: mf.make_pdf(p, ["Some text here"] * 3)),
    ("doc.docx", lambda p: mf.make_docx(p)),
])
def test_truncated_documents_are_corrupt_input(run, tmp_path, name, make):
    src = make(tmp_path / name)
    with pytest.raises(ProcessingError) as info:
        run("document.extract_text", mf.make_truncated(src, tmp_path / ("cut-" + name), 0.5))
    assert info.value.code == "CORRUPT_INPUT"


def test_media_is_not_a_document(run, tmp_path):
    with pytest.raises(ProcessingError) as info:
        run("document.extract_text", mf.make_png(tmp_path / "p.pdf"),
            content_type="application/pdf")
    assert info.value.code == "UNSUPPORTED_INPUT"
