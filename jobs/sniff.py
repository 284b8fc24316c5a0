"""What kind of input is this? Decided from the bytes, not from the label.

``sniff()`` looks at the first bytes with the ``filetype`` library plus a few
hand checks where it is weak (TXT/JSON have no magic number, DOCX is a zip,
ADTS AAC, Matroska vs WebM, old QuickTime, MP4 brands). Anything outside
the accepted list (``ACCEPTED``; docs/jobs.md lists it) raises ``ProcessingError(UNSUPPORTED_INPUT,
"Unsupported Content-Type")``.

``kind_for_filename`` / ``kind_for_content_type`` let the upload endpoint
enforce ``KIND_LIMITS`` while streaming, before the bytes are sniffed.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import NamedTuple

from jobs.processing_errors import UNSUPPORTED_INPUT, ProcessingError

GiB = 1024**3
MiB = 1024**2

KIND_LIMITS = {
    "video": 2 * GiB,
    "audio": 500 * MiB,
    "image": 100 * MiB,
    "document": 50 * MiB,
}

# How many leading bytes sniffing needs (filetype itself reads 8 KiB).
SNIFF_BYTES = 8192

DOCX_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# content type -> (kind, extension), for every accepted format.
ACCEPTED = {
    "video/mp4": ("video", "mp4"),
    "video/webm": ("video", "webm"),
    "video/x-msvideo": ("video", "avi"),
    "video/quicktime": ("video", "mov"),
    "video/x-matroska": ("video", "mkv"),
    "audio/mpeg": ("audio", "mp3"),
    "audio/wav": ("audio", "wav"),
    "audio/ogg": ("audio", "ogg"),
    "audio/flac": ("audio", "flac"),
    "audio/aac": ("audio", "aac"),
    "audio/mp4": ("audio", "m4a"),  # AAC in an MP4 container
    "image/jpeg": ("image", "jpg"),
    "image/png": ("image", "png"),
    "image/webp": ("image", "webp"),
    "image/gif": ("image", "gif"),
    "application/pdf": ("document", "pdf"),
    DOCX_CT: ("document", "docx"),
    "text/plain": ("document", "txt"),
    "application/json": ("document", "json"),
}

# Names clients and libraries use for the same formats.
_CONTENT_TYPE_ALIASES = {
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/x-flac": "audio/flac",
    "audio/aacp": "audio/aac",
    "audio/x-aac": "audio/aac",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "application/ogg": "audio/ogg",
    "audio/opus": "audio/ogg",
    "video/avi": "video/x-msvideo",
    "video/msvideo": "video/x-msvideo",
    "video/matroska": "video/x-matroska",
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/apng": "image/png",  # an animated PNG is still a PNG
    "text/json": "application/json",
    "application/x-pdf": "application/pdf",
    "audio/webm": "video/webm",  # WebM, whatever its tracks
    "video/x-m4v": "video/mp4",
    "audio/x-mpeg": "audio/mpeg",
    "audio/mpeg3": "audio/mpeg",
    "audio/x-mpeg-3": "audio/mpeg",
    "audio/vorbis": "audio/ogg",
    "audio/x-ogg": "audio/ogg",
}

# Labels that say nothing about the format: the bytes alone decide.
GENERIC_CONTENT_TYPES = {
    "application/octet-stream", "binary/octet-stream", "application/binary", "application/unknown",
    "application/download", "application/force-download", "application/x-download",
}

_EXTENSIONS = {
    "mp4": "video/mp4", "m4v": "video/mp4", "webm": "video/webm", "avi": "video/x-msvideo",
    "mov": "video/quicktime", "qt": "video/quicktime", "mkv": "video/x-matroska",
    "mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg", "oga": "audio/ogg",
    "opus": "audio/ogg", "flac": "audio/flac", "aac": "audio/aac", "m4a": "audio/mp4",
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
    "gif": "image/gif", "pdf": "application/pdf", "docx": DOCX_CT, "txt": "text/plain",
    "text": "text/plain", "json": "application/json",
}


class Sniffed(NamedTuple):
    kind: str  # "video" | "audio" | "image" | "document"
    content_type: str  # canonical, e.g. "audio/wav"
    extension: str  # without the dot, e.g. "wav"


def normalize_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    ct = content_type.split(";", 1)[0].strip().lower()
    return _CONTENT_TYPE_ALIASES.get(ct, ct)


def check_declared(declared_content_type: str | None, sniffed: Sniffed) -> None:
    """The Content-Type a server (or uploader) declared must be an accepted
    format of the kind the bytes are, unless it is absent or generic. So an
    HTML login page served in place of a PDF is "Unsupported Content-Type",
    not a successful extraction of its markup. Raises UNSUPPORTED_INPUT."""
    declared = normalize_content_type(declared_content_type)
    if not declared or declared in GENERIC_CONTENT_TYPES:
        return
    entry = ACCEPTED.get(declared)
    if entry is None:
        raise ProcessingError(UNSUPPORTED_INPUT, f"Unsupported Content-Type: {declared}")
    if entry[0] != sniffed.kind:
        raise ProcessingError(
            UNSUPPORTED_INPUT,
            f"Unsupported Content-Type: declared {declared}, but the bytes are {sniffed.content_type}",
        )


def kind_for_content_type(content_type: str | None) -> str | None:
    """The kind a declared Content-Type claims, or None if not an accepted one."""
    entry = ACCEPTED.get(normalize_content_type(content_type) or "")
    return entry[0] if entry else None


def kind_for_filename(filename: str | None) -> str | None:
    """The kind a filename's extension claims, or None if not an accepted one."""
    if not filename or "." not in filename:
        return None
    ct = _EXTENSIONS.get(filename.rsplit(".", 1)[1].strip().lower())
    return kind_for_content_type(ct)


def sniff(path_or_first_bytes: str | os.PathLike | bytes, filename: str | None = None,
          declared_content_type: str | None = None) -> Sniffed:
    """Detect the input's kind from its bytes; raise UNSUPPORTED_INPUT otherwise.

    Pass a path when you have the whole file (zips are then checked for
    ``word/document.xml`` and small JSON is parsed fully), or the first
    ``SNIFF_BYTES`` bytes. ``filename`` and ``declared_content_type`` only
    break ties the bytes cannot (TXT vs JSON); they never override them.
    """
    path = None
    if isinstance(path_or_first_bytes, (bytes, bytearray, memoryview)):
        head = bytes(path_or_first_bytes[:SNIFF_BYTES])
    else:
        path = os.fspath(path_or_first_bytes)
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    content_type = _detect(head, path, filename, normalize_content_type(declared_content_type))
    if content_type not in ACCEPTED:
        raise ProcessingError(UNSUPPORTED_INPUT, "Unsupported Content-Type")
    kind, extension = ACCEPTED[content_type]
    return Sniffed(kind, content_type, extension)


def _detect(head: bytes, path: str | None, filename: str | None, declared: str | None) -> str | None:
    import filetype

    if not head:
        return None
    hand = _hand_checks(head, path)
    if hand:
        return hand
    guess = filetype.guess(head)
    if guess is not None:
        mime = normalize_content_type(guess.mime)
        if mime == "application/zip":
            return None  # a zip that is not a DOCX (checked above)
        if mime in ACCEPTED:
            return mime
        return None  # recognised, but not something we accept (TIFF, EXE, ...)
    return _text_kind(head, path, filename, declared)


def _hand_checks(head: bytes, path: str | None) -> str | None:
    # ISO-BMFF: filetype only knows a few MP4 brands; decide by the ftyp box.
    if head[4:8] == b"ftyp" and len(head) >= 12:
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in (b"M4A ", b"M4B ", b"M4P "):
            return "audio/mp4"
        if brand.startswith(b"3g"):
            return None  # 3GP is not on the accepted list
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis", b"crx "):
            return None  # still images / raw photos
        return "video/mp4"
    # Old QuickTime files start with a moov/mdat/wide box, no ftyp.
    if head[4:8] in (b"moov", b"mdat", b"wide", b"pnot") and len(head) >= 8:
        return "video/quicktime"
    # Matroska vs WebM: the EBML DocType.
    if head[:4] == b"\x1a\x45\xdf\xa3":
        if b"webm" in head[:64]:
            return "video/webm"
        if b"matroska" in head[:64]:
            return "video/x-matroska"
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    # ADTS AAC: 12-bit sync 0xFFF, layer bits 00 (0xFFF0/0xFFF1/0xFFF8/0xFFF9).
    if len(head) >= 7 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        return "audio/aac"
    # MP3 without ID3: an MPEG-1/2/2.5 layer III frame sync.
    if len(head) >= 4 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) == 0x02:
        return "audio/mpeg"
    if head[:4] == b"PK\x03\x04":
        return _zip_kind(head, path)
    return None


def _zip_kind(head: bytes, path: str | None) -> str | None:
    """A DOCX is a zip with word/document.xml; any other zip is unsupported."""
    if path is not None:
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            # Truncated or damaged: trust the local headers we can see, so the
            # processor reports CORRUPT_INPUT rather than "unsupported".
            return DOCX_CT if b"word/" in head else None
        return DOCX_CT if "word/document.xml" in names else None
    return DOCX_CT if b"word/" in head else None


def _text_kind(head: bytes, path: str | None, filename: str | None, declared: str | None) -> str | None:
    if not _looks_like_text(head):
        return None
    claims_json = declared == "application/json" or (filename or "").lower().endswith(".json")
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if claims_json:
        return "application/json"
    if stripped[:1] in (b"{", b"[") and _parses_as_json(head, path):
        return "application/json"
    return "text/plain"


def _looks_like_text(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True  # UTF-16 with a byte order mark
    if b"\x00" in head:
        return False
    controls = sum(1 for b in head if b < 0x20 and b not in b"\t\n\r\f\v\x1b\x08")
    if controls > max(2, len(head) // 100):
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:
            return True  # a multi-byte character cut at the sniff boundary
    from charset_normalizer import from_bytes

    return from_bytes(head).best() is not None


# Larger files starting with { or [ are taken as JSON without a full parse.
_JSON_PARSE_LIMIT = 5 * MiB


def _parses_as_json(head: bytes, path: str | None) -> bool:
    data = head
    if path is not None:
        if os.path.getsize(path) > _JSON_PARSE_LIMIT:
            return True
        with open(path, "rb") as f:
            data = f.read()
    elif len(head) >= SNIFF_BYTES:
        return True  # only a prefix: cannot parse it, but it looks like JSON
    try:
        json.loads(data)
        return True
    except (ValueError, RecursionError):
        return False
