import zipfile

import pytest

from jobs.processors import ProcessingError
from jobs.sniff import (
    DOCX_CT,
    KIND_LIMITS,
    Sniffed,
    kind_for_content_type,
    kind_for_filename,
    normalize_content_type,
    sniff,
)
from tests import media_factory as mf

ACCEPTED = [
    ("clip.mp4", mf.make_mp4, Sniffed("video", "video/mp4", "mp4")),
    ("clip.webm", mf.make_webm, Sniffed("video", "video/webm", "webm")),
    ("clip.avi", mf.make_avi, Sniffed("video", "video/x-msvideo", "avi")),
    ("clip.mov", mf.make_mov, Sniffed("video", "video/quicktime", "mov")),
    ("clip.mkv", mf.make_mkv, Sniffed("video", "video/x-matroska", "mkv")),
    ("tone.mp3", mf.make_mp3, Sniffed("audio", "audio/mpeg", "mp3")),
    ("tone.wav", mf.make_wav, Sniffed("audio", "audio/wav", "wav")),
    ("tone.ogg", mf.make_ogg, Sniffed("audio", "audio/ogg", "ogg")),
    ("tone.flac", mf.make_flac, Sniffed("audio", "audio/flac", "flac")),
    ("tone.aac", mf.make_aac, Sniffed("audio", "audio/aac", "aac")),
    ("pic.jpg", mf.make_jpeg, Sniffed("image", "image/jpeg", "jpg")),
    ("pic.png", mf.make_png, Sniffed("image", "image/png", "png")),
    ("pic.webp", mf.make_webp, Sniffed("image", "image/webp", "webp")),
    ("pic.gif", mf.make_animated_gif, Sniffed("image", "image/gif", "gif")),
    ("doc.pdf", mf.make_pdf, Sniffed("document", "application/pdf", "pdf")),
    ("doc.docx", mf.make_docx, Sniffed("document", DOCX_CT, "docx")),
    ("notes.txt", mf.make_txt, Sniffed("document", "text/plain", "txt")),
    ("data.json", mf.make_json, Sniffed("document", "application/json", "json")),
]


@pytest.mark.parametrize("name,make,expected", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_it_recognises_every_accepted_format_from_its_bytes(tmp_path, name, make, expected):
    # A neutral file name: the bytes alone decide.
    path = tmp_path / "upload.bin"
    make(path)
    assert sniff(path) == expected
    assert sniff(path.read_bytes()[:8192], filename=name) == expected


def test_the_bytes_win_over_a_wrong_label(tmp_path):
    pdf = mf.make_pdf(tmp_path / "photo.png")
    assert sniff(pdf, filename="photo.png", declared_content_type="image/png").kind == "document"


@pytest.mark.parametrize("make", [
    lambda p: mf.make_garbage(p),
    lambda p: p.write_bytes(b""),
    lambda p: p.write_bytes(b"MZ\x90\x00" + b"\x00" * 200),  # a Windows executable
    lambda p: __import__("PIL.Image").Image.new("RGB", (8, 8)).save(p, "TIFF"),
    lambda p: __import__("PIL.Image").Image.new("RGB", (8, 8)).save(p, "BMP"),
], ids=["random-bytes", "empty", "exe", "tiff", "bmp"])
def test_it_refuses_anything_else_as_unsupported(tmp_path, make):
    path = tmp_path / "upload.bin"
    make(path)
    with pytest.raises(ProcessingError) as info:
        sniff(path)
    assert info.value.code == "UNSUPPORTED_INPUT"
    assert info.value.message == "Unsupported Content-Type"


def test_a_plain_zip_is_not_taken_for_a_docx(tmp_path):
    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ProcessingError):
        sniff(path, filename="archive.docx")


def test_latin1_text_is_text_and_json_needs_to_parse_or_be_labelled(tmp_path):
    assert sniff(mf.make_txt(tmp_path / "a", "Café crème\n", "latin-1")).content_type == "text/plain"
    log = mf.make_txt(tmp_path / "b", "[INFO] started\n[INFO] done\n")
    assert sniff(log).content_type == "text/plain"
    assert sniff(mf.make_txt(tmp_path / "c", '[1, 2, {"a": null}]')).content_type == "application/json"
    broken = mf.make_txt(tmp_path / "d", '{"a": ')
    assert sniff(broken).content_type == "text/plain"
    assert sniff(broken, filename="d.json").content_type == "application/json"


def test_kind_helpers_read_extensions_and_content_types():
    assert kind_for_filename("Holiday.MOV") == "video"
    assert kind_for_filename("song.flac") == "audio"
    assert kind_for_filename("scan.jpeg") == "image"
    assert kind_for_filename("report.docx") == "document"
    assert kind_for_filename("archive.zip") is None
    assert kind_for_filename("no-extension") is None
    assert kind_for_content_type("audio/x-wav; charset=binary") == "audio"
    assert kind_for_content_type("application/json") == "document"
    assert kind_for_content_type("application/zip") is None
    assert kind_for_content_type(None) is None
    assert normalize_content_type("Image/JPG") == "image/jpeg"


def test_kind_limits_match_the_spec():
    assert KIND_LIMITS == {
        "video": 2 * 1024**3,
        "audio": 500 * 1024**2,
        "image": 100 * 1024**2,
        "document": 50 * 1024**2,
    }
