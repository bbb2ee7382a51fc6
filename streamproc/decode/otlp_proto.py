"""OTLP protobuf (`ExportTraceServiceRequest`) into spans: what the gRPC receiver decodes.

Ids are raw bytes on this wire: a trace id must be 16 bytes and a span id 8, neither all zeros; a
parent id is empty or 8 bytes. A span ending before it starts is rejected. Rejected spans are reported
(with the reason) so that the receiver can answer with OTLP partial success.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest as PB2ExportTraceServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue as PB2AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PB2Span

from streamproc.decode.common import (
    SPAN_ID_BYTES,
    TRACE_ID_BYTES,
    DecodeResult,
    SpanProblem,
    extract_attributes,
    intern_text,
)
from streamproc.model import (
    ATTRIBUTE_INDEX,
    UNKNOWN_SERVICE,
    SkippedSpan,
    SkipReason,
    Span,
    SpanKind,
    StatusCode,
)

_KINDS = tuple(SpanKind)
_CODES = tuple(StatusCode)


def any_value(value: PB2AnyValue) -> Any:
    """The scalar held by an AnyValue; None for arrays, maps, bytes and an empty value."""
    which = value.WhichOneof("value")
    if which in ("string_value", "int_value", "bool_value", "double_value"):
        return getattr(value, which)
    return None


def decode_export_request(request: PB2ExportTraceServiceRequest) -> DecodeResult:
    result = DecodeResult()
    for resource_spans in request.resource_spans:
        service = UNKNOWN_SERVICE
        for attribute in resource_spans.resource.attributes:
            if attribute.key == "service.name":
                service = intern_text(any_value(attribute.value), UNKNOWN_SERVICE)
                break
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                try:
                    result.spans.append(_span(span, service))
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


def _span(span: PB2Span, service: str) -> Span:
    trace_id = _check_id(span.trace_id, TRACE_ID_BYTES, SkipReason.BAD_TRACE_ID, "trace id")
    span_id = _check_id(span.span_id, SPAN_ID_BYTES, SkipReason.BAD_SPAN_ID, "span id")
    parent = span.parent_span_id
    if parent and len(parent) != SPAN_ID_BYTES:
        raise SpanProblem(SkipReason.BAD_PARENT_ID, f"parent span id has {len(parent)} bytes, expected 8")
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    if end < start:
        raise SpanProblem(SkipReason.END_BEFORE_START, f"end {end} is before start {start}")
    pairs = [(kv.key, any_value(kv.value)) for kv in span.attributes if kv.key in ATTRIBUTE_INDEX]
    for event in span.events:
        if event.name == "exception":
            pairs.extend(
                (kv.key, any_value(kv.value)) for kv in event.attributes if kv.key in ATTRIBUTE_INDEX
            )
            break
    kind = _KINDS[span.kind] if 0 <= span.kind < len(_KINDS) else SpanKind.UNSPECIFIED
    code = _CODES[span.status.code] if 0 <= span.status.code < len(_CODES) else StatusCode.UNSET
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent if any(parent) else b"",
        service=service,
        name=intern_text(span.name),
        kind=kind,
        start_ns=start,
        end_ns=end,
        status=code,
        status_message=span.status.message if code is StatusCode.ERROR else "",
        attributes=extract_attributes(pairs),
    )
