"""OTLP protobuf (`ExportTraceServiceRequest`) into spans: what the gRPC receiver decodes.

The reference decoder: the protobuf runtime parses the request, this reads its messages. The receivers
use `otlp_wire`, which reads the same fields from the bytes and must give the same result (a property
test holds the two equal); the span checks both apply are `common.otlp_span`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest as PB2ExportTraceServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue as PB2AnyValue
from opentelemetry.proto.common.v1.common_pb2 import KeyValue as PB2KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PB2Span

from streamproc.decode.common import (
    DecodeResult,
    SpanProblem,
    intern_text,
    keeps,
    otlp_span,
    share_attributes,
)
from streamproc.model import (
    ATTRIBUTE_COUNT,
    ATTRIBUTE_INDEX,
    NO_ATTRIBUTES,
    UNKNOWN_SERVICE,
    SkippedSpan,
    Span,
    SpanAttributes,
)


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


def _attributes(key_values: Iterable[PB2KeyValue], events: Iterable[PB2Span.Event]) -> SpanAttributes:
    """The analysed attributes in one pass: one index lookup per attribute, values read by their oneof case.

    The hot path of the receiver: the generic route (pairs, then `extract_attributes`) cost twice as much.
    """
    values: list[str | None] | None = None
    preferred = 0  # see `keeps`
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
            text = _scalar_text(kv.value)
            if text is None:
                continue
            if values is None:
                values = [None] * ATTRIBUTE_COUNT
            position, rank = slot
            if keeps(values, preferred, position, rank):
                values[position] = text
                if rank == 0:
                    preferred |= 1 << position
    return NO_ATTRIBUTES if values is None else share_attributes(values)


def _scalar_text(value: PB2AnyValue) -> str | None:
    """A scalar AnyValue as text, read by its oneof case (booleans lowercase); None for anything else."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return str(value.int_value)
    if which == "bool_value":
        return "true" if value.bool_value else "false"
    if which == "double_value":
        return str(value.double_value)
    return None


def _span(span: PB2Span, service: str, ids: dict[bytes, bytes]) -> Span:
    status = span.status
    return otlp_span(
        ids,
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        service,
        span.name,
        span.kind,
        span.start_time_unix_nano,
        span.end_time_unix_nano,
        status.code,
        status.message,
        _attributes(span.attributes, span.events),
    )
