"""JSON in and out, through msgspec: one parser and one encoder for the decoders, reports and endpoints.

msgspec parses a Jaeger export into Python objects about three times as fast as orjson does here (624 MB,
1.2 M spans: 3.7 s against 12.4 s), and parsing is the largest single cost of a batch analysis.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

JSONError = msgspec.DecodeError

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()
_AT_BYTE = re.compile(r"^(?:JSON is malformed: )?(.*) \(byte (\d+)\)$")


def loads(data: bytes | str) -> Any:
    """The Python value of one JSON document; raises JSONError when it is not valid JSON."""
    return _decoder.decode(data)


def dumps(value: Any) -> bytes:
    return _encoder.encode(value)


def dumps_indented(value: Any) -> bytes:
    """Two-space indented JSON, keys in insertion order, as the report schema is documented."""
    return msgspec.json.format(_encoder.encode(value), indent=2)


def problem(exc: JSONError, data: bytes) -> str:
    """What is wrong with `data`, where a person can find it: line and column rather than a byte offset."""
    text = str(exc)
    end = len(data.rstrip())
    found = _AT_BYTE.match(text)
    if found is None and "truncated" not in text:
        return text
    pos = int(found[2]) if found else end
    line = data.count(b"\n", 0, pos) + 1
    column = pos - (data.rfind(b"\n", 0, pos) + 1) + 1
    if pos >= end:
        return f"the document ends early (truncated?) at line {line} column {column}"
    return f"{found[1] if found else text} at line {line} column {column}"
