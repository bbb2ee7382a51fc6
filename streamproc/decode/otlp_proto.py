"""OTLP protobuf (`ExportTraceServiceRequest`) into spans: what the gRPC receiver decodes.

Ids are raw bytes on this wire: a trace id must be 16 bytes and a span id 8, neither all zeros; a
parent id is empty or 8 bytes. A span ending before it starts is rejected. Rejected spans are reported
(with the reason) so that the receiver can answer with OTLP partial success.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest as PB2ExportTraceServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue as PB2AnyValue
from opentelemetry.proto.common.v1.common_pb2 import KeyValue as PB2KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PB2Span

from streamproc.decode.common import (
    TRACE_ID_BYTES,
    DecodeResult,
    SpanProblem,
    cut,
    intern_text,
    share_attributes,
)
from streamproc.model import (
    ATTRIBUTE_INDEX,
    NO_ATTRIBUTES,
    SPAN_ID_BYTES,
    UNKNOWN_SERVICE,
    SkippedSpan,
    SkipReason,
    Span,
    SpanAttributes,
    SpanKind,
    StatusCode,
)

_KINDS = tuple(SpanKind)
_CODES = tuple(StatusCode)
_ATTRIBUTE_COUNT = len(SpanAttributes._fields)
_NO_RANK = sys.maxsize


def any_value(value: PB2AnyValue) -> Any:
    """The scalar held by an AnyValue; None for arrays, maps, bytes and an empty value."""
    which = value.WhichOneof("value")
    if which in ("string_value", "int_value", "bool_value", "double_value"):
        return getattr(value, which)
    return None


def decode_export_request(request: PB2ExportTraceServiceRequest) -> DecodeResult:
    result = DecodeResult()
    # A request holds several spans of each trace, parents with their children: equal ids share one
    # bytes object (a trace id is 49 bytes, a span id 41), whichever span brought it first.
    ids: dict[bytes, bytes] = {}
    for resource_spans in request.resource_spans:
        service = UNKNOWN_SERVICE
        for attribute in resource_spans.resource.attributes:
            if attribute.key == "service.name":
                service = intern_text(any_value(attribute.value), UNKNOWN_SERVICE)
                break
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                try:
                    result.spans.append(_span(span, service, ids))
                except SpanProblem as problem:
                    result.skipped.append(
                        SkippedSpan(problem.reason, problem.detail, span.trace_id.hex(), span.span_id.hex())
                    )
    return result


def _check_id(value: bytes, size: int, reason: SkipReason, what: str) -> bytes:
    if len(value) != size:
        raise SpanProblem(reason, f"{what} has {len(value)} bytes, expected {size}")
    if not any(value):
        raise SpanProblem(reason, f"{what} is all zeros")
    return value


def _attributes(key_values: Iterable[PB2KeyValue], events: Iterable[PB2Span.Event]) -> SpanAttributes:
    """The analysed attributes in one pass: one index lookup per attribute, values read by their oneof case.

    The hot path of the receiver: the generic route (pairs, then `extract_attributes`) cost twice as much.
    """
    values: list[str | None] | None = None
    ranks: list[int] = []
    sources: list[Iterable[PB2KeyValue]] = [key_values]
    for event in events:
        if event.name == "exception":
            sources.append(event.attributes)
            break
    for source in sources:
        for kv in source:
            slot = ATTRIBUTE_INDEX.get(kv.key)
            if slot is None:
                continue
            value = kv.value
            which = value.WhichOneof("value")
            if which == "string_value":
                text = value.string_value
            elif which == "int_value":
                text = str(value.int_value)
            elif which == "bool_value":
                text = "true" if value.bool_value else "false"
            elif which == "double_value":
                text = str(value.double_value)
            else:
                continue
            if values is None:
                values = [None] * _ATTRIBUTE_COUNT
                ranks = [_NO_RANK] * _ATTRIBUTE_COUNT
            position, rank = slot
            if rank < ranks[position]:
                values[position] = text
                ranks[position] = rank
    return NO_ATTRIBUTES if values is None else share_attributes(values)


def _span(span: PB2Span, service: str, ids: dict[bytes, bytes]) -> Span:
    trace_id = span.trace_id
    trace_id = ids.setdefault(trace_id, trace_id)
    span_id = span.span_id
    span_id = ids.setdefault(span_id, span_id)
    if len(trace_id) != TRACE_ID_BYTES or not any(trace_id):
        _check_id(trace_id, TRACE_ID_BYTES, SkipReason.BAD_TRACE_ID, "trace id")
    if len(span_id) != SPAN_ID_BYTES or not any(span_id):
        _check_id(span_id, SPAN_ID_BYTES, SkipReason.BAD_SPAN_ID, "span id")
    parent = span.parent_span_id
    if parent and len(parent) != SPAN_ID_BYTES:
        raise SpanProblem(SkipReason.BAD_PARENT_ID, f"parent span id has {len(parent)} bytes, expected 8")
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if end < start:
        raise SpanProblem(SkipReason.END_BEFORE_START, f"end {end} is before start {start}")
    kind_number, status = span.kind, span.status
    code_number = status.code
    code = _CODES[code_number] if 0 <= code_number < len(_CODES) else StatusCode.UNSET
    return Span(
        trace_id,
        span_id,
        ids.setdefault(parent, parent) if parent and any(parent) else b"",
        service,
        intern_text(span.name),
        _KINDS[kind_number] if 0 <= kind_number < len(_KINDS) else SpanKind.UNSPECIFIED,
        start,
        end,
        code,
        cut(status.message) if code is StatusCode.ERROR else "",
        _attributes(span.attributes, span.events),
    )
