"""Decoded spans on their way from the receiving process to a worker process (`live.workers`): one
request's spans of the traces that worker owns, as MessagePack (msgspec), about 130 bytes a span.

The receiving process decodes each request itself (so its answer, partial success included, is the one
process's answer), then sends each worker its share. Decoding a batch back costs less than decoding the
OTLP bytes again, and rebuilds what the decoders share: one bytes object per id within a batch, one string
per service and operation name, one attribute set per distinct set (`decode.common`).
"""

from __future__ import annotations

import sys

import msgspec

from streamproc.decode.common import DecodeResult, share_attributes
from streamproc.model import SkippedSpan, SkipReason, Span, SpanKind, StatusCode, new_tuple

#: A span as the batch holds it: Span's fields in order, kind and status as their numbers.
_Row = tuple[bytes, bytes, bytes, str, str, int, int, int, int, str, tuple[str | None, ...]]
_Skip = tuple[str, str, str, str]
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(tuple[str, list[_Row], list[_Skip]])
_KINDS = tuple(SpanKind)
_CODES = tuple(StatusCode)


def encode_batch(transport: str, spans: list[Span], skipped: list[SkippedSpan]) -> bytes:
    """The batch of `spans` (and skipped spans, counted by the worker) received over `transport`."""
    skips = [(s.reason.value, s.detail, s.trace_id, s.span_id) for s in skipped]
    return _ENCODER.encode((transport, spans, skips))


def decode_batch(blob: bytes) -> tuple[str, DecodeResult]:
    """The transport and spans of a batch made by `encode_batch`; msgspec.DecodeError if it is not one."""
    transport, rows, skips = _DECODER.decode(blob)
    ids: dict[bytes, bytes] = {}
    spans: list[Span] = []
    intern = sys.intern
    for trace_id, span_id, parent, service, name, kind, start, end, code, message, attributes in rows:
        span: Span = new_tuple(
            Span,
            (
                ids.setdefault(trace_id, trace_id),
                ids.setdefault(span_id, span_id),
                ids.setdefault(parent, parent) if parent else b"",
                intern(service),
                intern(name),
                _KINDS[kind],
                start,
                end,
                _CODES[code],
                message,
                share_attributes(list(attributes)),
            ),
        )
        spans.append(span)
    skipped = [SkippedSpan(SkipReason(reason), detail, trace, span) for reason, detail, trace, span in skips]
    return transport, DecodeResult(spans, skipped)


def partition(
    spans: list[Span], skipped: list[SkippedSpan], parts: int
) -> list[tuple[list[Span], list[SkippedSpan]]]:
    """The spans (and skipped spans) of a request split by trace id into `parts` shares: a trace's spans
    always go to the same share, in the receiving process's lifetime (Python's hash of the id)."""
    shares: list[tuple[list[Span], list[SkippedSpan]]] = [([], []) for _ in range(parts)]
    for span in spans:
        shares[hash(span.trace_id) % parts][0].append(span)
    for skip in skipped:
        shares[hash(skip.trace_id) % parts][1].append(skip)
    return shares
