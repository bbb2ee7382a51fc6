"""Message and statement normalisation, so that occurrences that differ only in values group together."""

from __future__ import annotations

import re

from streamproc.model import Span

_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_HEX = re.compile(r"\b0[xX][0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b")
_NUMBER = re.compile(r"(?<![A-Za-z_?])-?\d+(?:\.\d+)?")
_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_SPACE = re.compile(r"\s+")

NO_MESSAGE = "(no message)"


def normalize(text: str) -> str:
    """Replace quoted values, UUIDs, hex ids, IP addresses and numbers with `?`; collapse white space."""
    text = _QUOTED.sub("?", text)
    text = _UUID.sub("?", text)
    text = _HEX.sub("?", text)
    text = _IPV4.sub("?", text)
    text = _NUMBER.sub("?", text)
    return _SPACE.sub(" ", text).strip()


def normalize_statement(statement: str) -> str:
    """A database statement with its literals replaced by `?` and value lists folded: `IN (?)`."""
    return _LIST.sub("(?)", normalize(statement))


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
