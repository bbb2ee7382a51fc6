"""Message and statement normalisation, so that occurrences that differ only in values group together."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from streamproc.model import Span

_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
# Hex ids: 0x-prefixed, or a run of 8 or more hex digits holding both a digit and a letter (checked in
# `_hex`, which is cheaper than two lookaheads at every word boundary).
_HEX = re.compile(r"\b(?:0[xX][0-9a-fA-F]+|[0-9a-fA-F]{8,})\b")
_HEX_LETTER = re.compile(r"[a-fA-F]")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b")
_NUMBER = re.compile(r"(?<![A-Za-z_?])-?\d+(?:\.\d+)?")
_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
# What makes a 100-599 number an HTTP status code worth keeping: it follows HTTP (with a version or not),
# status or code, with nothing but separators between.
_CODE_BEFORE = re.compile(r"(?<![A-Za-z])(?i:http(?:/\d(?:\.\d)?)?|status|code)[\s:=_#]*$")
_DIGIT = re.compile(r"\d")

NO_MESSAGE = "(no message)"
_CACHED_TEXTS = 1024  # normalised forms kept, per table
_CACHEABLE_LENGTH = 2048  # longer texts are normalised every time: the caches stay within a few MB


def _hex(match: re.Match[str]) -> str:
    token = match.group()
    if token[1] in "xX" or (_DIGIT.search(token) and _HEX_LETTER.search(token)):
        return "?"
    return token


def normalize(text: str) -> str:
    """Replace quoted values, UUIDs, hex ids, IP addresses and numbers with `?`; collapse white space.
    Low-cardinality codes stay: an HTTP status (100-599) after `HTTP`, `status` or `code`, or alone, and
    numbers that are part of a word (`s3`, `http2`).

    This runs for every bottleneck and erroring span, so results are cached (see `_ShapeCache`).
    """
    return _MESSAGES.get(text)


def normalize_statement(statement: str) -> str:
    """A database statement with its literals replaced by `?` and value lists folded: `IN (?)`."""
    return _STATEMENTS.get(statement)


def _normalize(text: str, *, keep_codes: bool) -> str:
    """A pattern runs only where the text holds a character every match of it needs (a quote; a hyphen;
    a digit): each pass costs microseconds."""
    if "'" in text or '"' in text:
        text = _QUOTED.sub("?", text)
    if "-" in text:
        text = _UUID.sub("?", text)
    if _DIGIT.search(text):
        text = _HEX.sub(_hex, text)
        text = _IPV4.sub("?", text)
        text = _NUMBER.sub(_number if keep_codes else "?", text)
    return " ".join(text.split())


def _number(match: re.Match[str]) -> str:
    """`?` for a number, except an HTTP status code where the text says it is one, or stands alone, and
    the version in `HTTP/1.1`."""
    token, text = match.group(), match.string
    if text[max(0, match.start() - 5) : match.start()].upper() == "HTTP/":
        return token  # the protocol version: part of the word
    if len(token) == 3 and "1" <= token[0] <= "5" and token.isdigit():
        if not text[: match.start()].strip() and not text[match.end() :].strip():
            return token
        if _CODE_BEFORE.search(text, 0, match.start()):
            return token
    return "?"


def _normalize_message(text: str) -> str:
    return _normalize(text, keep_codes=True)


def _normalize_statement(statement: str) -> str:
    return _LIST.sub("(?)", _normalize(statement, keep_codes=False))


#: ASCII digits to their class: what every rule of `_normalize` can tell apart (a digit; a zero, as in
#: `0x`; 1-5, which may start an HTTP status code).
_DIGIT_CLASSES = bytes.maketrans(b"0123456789", b"0111116666")


class _ShapeCache:
    """Normalised texts, looked up by shape: the text with each ASCII digit replaced by its class.

    Every rule of the normalisation decides alike on two texts of one shape, and what it keeps it copies
    from the text; so where nothing it keeps holds an ASCII digit (`WHERE id = 14105` and `WHERE id = 94637`
    both give `WHERE id = ?`), the result is the same for every text of that shape and is kept under the
    shape. A result that keeps digits (`HTTP 504`) is kept under the text itself. Texts differing only in
    their literals, the usual case, then cost one translation and one lookup instead of the regex passes
    (`tests/test_errors.py` holds the results equal to the definition, shape hits included). Each table is
    emptied when it reaches its limit; texts longer than `_CACHEABLE_LENGTH` are normalised every time,
    so the tables stay within a few MB.
    """

    def __init__(self, function: Callable[[str], str]) -> None:
        self._function = function
        self._by_shape: dict[bytes, str] = {}
        self._by_text: dict[str, str] = {}

    def get(self, text: str) -> str:
        if len(text) > _CACHEABLE_LENGTH:
            return self._function(text)
        found = self._by_text.get(text)
        if found is not None:
            return found
        shape = text.encode("utf-8", "surrogatepass").translate(_DIGIT_CLASSES)
        found = self._by_shape.get(shape)
        if found is not None:
            return found
        result = self._function(text)
        table: dict[Any, str] = self._by_text if _DIGIT.search(result) else self._by_shape
        if len(table) >= _CACHED_TEXTS:
            table.clear()
        table[text if table is self._by_text else shape] = result
        return result


_MESSAGES = _ShapeCache(_normalize_message)
_STATEMENTS = _ShapeCache(_normalize_statement)


def error_message(span: Span) -> str:
    """The normalised message of an erroring span: status message, else exception event, else HTTP status.

    The HTTP status fallback is left as is ("HTTP 503"): it is a code, not free text with values in it.
    """
    if span.status_message:
        return normalize(span.status_message)
    attributes = span.attributes
    if attributes.exception_type or attributes.exception_message:
        parts = [p for p in (attributes.exception_type, attributes.exception_message) if p]
        return normalize(": ".join(parts))
    if attributes.http_status_code:
        return f"HTTP {attributes.http_status_code}"
    return NO_MESSAGE


def bottleneck_pattern(span: Span) -> str:
    """What a bottleneck span was doing: its statement, else its status message, else its route or method."""
    attributes = span.attributes
    if attributes.db_statement:
        return normalize_statement(attributes.db_statement)
    if span.status_message:
        return normalize(span.status_message)
    return attributes.http_route or attributes.rpc_method or ""
