"""Request body parsers.

JSON is the API's language. curl's `-d '{...}'` sends JSON labelled as a
form, as many customers' scripts do (docs/errors.md), so a form-labelled body that looks
like JSON is read as JSON; a real form (`-d "ip=..."`) is read as a form.
NUL characters are refused before anything can store them.
"""

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import QueryDict
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


def _read_limited(stream) -> bytes:
    """Reads the body, refusing more than DATA_UPLOAD_MAX_MEMORY_SIZE (413)."""
    if stream is None:
        return b""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise RequestDataTooBig("Request body exceeded DATA_UPLOAD_MAX_MEMORY_SIZE")
    return raw


def decode_json(raw: bytes):
    if b"\x00" in raw:
        raise ParseError("Request body contains NUL bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("Request body is not valid UTF-8") from None
    if "\\u0000" in text.lower():
        raise ParseError("NUL characters are not allowed")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise ParseError(f"Malformed JSON: {exc}") from None
    except RecursionError:
        # 200,000 "[" fit in the body limit; the decoder recurses once each.
        raise ParseError("Malformed JSON: nested too deeply") from None


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = _read_limited(stream)
        if not raw.strip():
            return {}
        return decode_json(raw)


class CurlFriendlyFormParser(BaseParser):
    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = _read_limited(stream)
        if raw.lstrip()[:1] in (b"{", b"["):
            return decode_json(raw)
        if b"\x00" in raw or b"%00" in raw.lower():
            raise ParseError("Request body contains NUL bytes")
        try:
            return QueryDict(raw.decode("utf-8")).dict()
        except UnicodeDecodeError:
            raise ParseError("Request body is not valid UTF-8") from None
