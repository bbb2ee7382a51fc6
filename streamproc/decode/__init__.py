"""Trace file decoding: detect the format from content and turn the document into spans.

`decode_bytes` is pure (bytes in, spans out); reading files and stdin is the batch layer's job.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from streamproc.decode.common import DecodeResult, group_traces
from streamproc.decode.jaeger import decode_jaeger, decode_jaeger_document, jaeger_traces
from streamproc.decode.otlp_json import decode_otlp_json, is_otlp
from streamproc.decode.zipkin import decode_zipkin, zipkin_spans
from streamproc.errors import DecodeError
from streamproc.jsonio import JSONError, loads, problem

__all__ = ["DecodeResult", "Format", "decode_bytes", "detect_format", "group_traces"]


class Format(enum.Enum):
    """The trace encodings streamproc reads (and `streamproc generate` writes)."""

    JAEGER = "jaeger"
    ZIPKIN = "zipkin"
    OTLP_JSON = "otlp-json"
    OTLP_JSONL = "otlp-jsonl"


_SHAPES = (
    'expected Jaeger ({"data": [...]}, a trace with "spans", or an array of spans with "spanID"), Zipkin v2 '
    '(an array of spans or of traces) or OTLP JSON ({"resourceSpans": [...]}, one per line for JSON Lines)'
)


def detect_format(doc: Any) -> Format | None:
    """The format of a parsed JSON document, judged from its shape; None if no decoder knows it."""
    if is_otlp(doc):
        return Format.OTLP_JSON
    if jaeger_traces(doc) is not None:
        return Format.JAEGER
    if zipkin_spans(doc) is not None:
        return Format.ZIPKIN
    return None


def decode_bytes(data: bytes, source: str, forced: Format | None = None) -> tuple[Format, DecodeResult]:
    """Decode one input. Raises DecodeError naming `source` when the input as a whole is unusable."""
    try:
        return _decode_bytes(data, source, forced)
    except RecursionError:
        raise DecodeError(source, "not usable: its JSON nests deeper than any trace export does") from None
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise DecodeError(source, f"not valid JSON: {exc}") from None


def _decode_bytes(data: bytes, source: str, forced: Format | None) -> tuple[Format, DecodeResult]:
    if not data.strip():
        raise DecodeError(source, "the file is empty")
    if forced is Format.OTLP_JSONL:
        return Format.OTLP_JSONL, _decode_lines(data, source)
    if forced in (None, Format.JAEGER) and (typed := decode_jaeger_document(data)) is not None:
        return Format.JAEGER, typed
    try:
        doc = loads(data)
    except JSONError as exc:
        if forced in (None, Format.OTLP_JSON) and _looks_like_json_lines(data):
            return Format.OTLP_JSONL, _decode_lines(data, source)
        raise DecodeError(source, f"not valid JSON: {problem(exc, data)}") from None
    if isinstance(doc, dict) and is_otlp(doc.get("result")):
        doc = doc["result"]  # Jaeger api_v3 wraps OTLP JSON as {"result": {...}}
    found = detect_format(doc)
    if forced is not None and found is not forced:
        seen = found.value if found else "an unrecognised shape"
        raise DecodeError(source, f"--format {forced.value} was given but the file holds {seen}")
    if found is Format.OTLP_JSON:
        return found, decode_otlp_json(doc)
    if found is Format.JAEGER:
        return found, decode_jaeger(doc)
    if found is Format.ZIPKIN:
        return found, decode_zipkin(doc)
    raise DecodeError(source, f"unrecognised JSON shape ({_describe(doc)}): {_SHAPES}")


def _looks_like_json_lines(data: bytes) -> bool:
    first = data.lstrip().split(b"\n", 1)[0]
    try:
        return is_otlp(loads(first))
    except JSONError:
        return False


def _decode_lines(data: bytes, source: str) -> DecodeResult:
    result = DecodeResult()
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            doc = loads(line)
        except JSONError as exc:
            raise DecodeError(source, f"line {number}: not valid JSON: {problem(exc, line)}") from None
        if not is_otlp(doc):
            raise DecodeError(source, f"line {number}: not an OTLP JSON object ({_describe(doc)})")
        result.extend(decode_otlp_json(doc))
    return result


def _describe(doc: Any) -> str:
    if isinstance(doc, dict):
        keys = ", ".join(sorted(str(k) for k in doc)[:5])
        return f"an object with keys {keys}" if keys else "an empty object"
    if isinstance(doc, list):
        return f"an array of {len(doc)} items" if doc else "an empty array"
    return f"a JSON {type(doc).__name__}"
