"""Spans into each file format streamproc reads: the inverse of `decode`, used by `streamproc generate`.

Times are written in microseconds where the format wants them, so generated spans keep to whole µs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest as PB2ExportTraceServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue as PB2AnyValue
from opentelemetry.proto.common.v1.common_pb2 import KeyValue as PB2KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans as PB2ResourceSpans
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PB2Span
from opentelemetry.proto.trace.v1.trace_pb2 import Status as PB2Status

from streamproc.decode import Format
from streamproc.jsonio import dumps
from streamproc.model import Span, SpanKind, StatusCode, Trace
from streamproc.report.jaeger import exception_items, jaeger_trace, span_attribute_items, wire_id
from streamproc.units import NS_PER_US


def encode(traces: Iterable[Trace], fmt: Format) -> bytes:
    traces = list(traces)
    if fmt is Format.JAEGER:
        return dumps({"data": [jaeger_trace(t) for t in traces], "total": 0, "limit": 0, "errors": None})
    if fmt is Format.ZIPKIN:
        return dumps([_zipkin_span(s) for t in traces for s in t.spans])
    spans = [s for t in traces for s in t.spans]
    if fmt is Format.OTLP_JSON:
        return dumps(otlp_document(spans))
    return b"".join(dumps(otlp_document(batch)) + b"\n" for batch in _file_exporter_batches(spans))


def _file_exporter_batches(spans: list[Span], batch_size: int = 200) -> Iterator[list[Span]]:
    """Lines as a Collector file exporter writes them: batches in arrival order, so traces span lines."""
    for offset in range(0, len(spans), batch_size):
        yield spans[offset : offset + batch_size]


# --- Zipkin ---------------------------------------------------------------------------------------------

_ZIPKIN_KINDS = {
    SpanKind.SERVER: "SERVER",
    SpanKind.CLIENT: "CLIENT",
    SpanKind.PRODUCER: "PRODUCER",
    SpanKind.CONSUMER: "CONSUMER",
}


def _zipkin_span(span: Span) -> dict[str, Any]:
    tags = {k: str(v) for k, v in span_attribute_items(span)}
    if span.status is StatusCode.ERROR:
        tags["otel.status_code"] = "ERROR"
        tags["error"] = span.status_message
    elif span.status is StatusCode.OK:
        tags["otel.status_code"] = "OK"
    out: dict[str, Any] = {
        "traceId": span.trace_id.hex(),
        "id": wire_id(span.span_id).hex(),
        "name": span.name,
        "timestamp": span.start_ns // NS_PER_US,
        "duration": (span.end_ns - span.start_ns) // NS_PER_US,
        "localEndpoint": {"serviceName": span.service},
        "tags": tags,
    }
    if span.parent_span_id:
        out["parentId"] = wire_id(span.parent_span_id).hex()
    if span.kind in _ZIPKIN_KINDS:
        out["kind"] = _ZIPKIN_KINDS[span.kind]
    if exception_items(span):
        value = dumps({"exception": dict(exception_items(span))}).decode()
        out["annotations"] = [{"timestamp": span.end_ns // NS_PER_US, "value": value}]
    return out


# --- OTLP JSON ------------------------------------------------------------------------------------------


def _otlp_value(value: str | int) -> dict[str, str]:
    return {"intValue": str(value)} if isinstance(value, int) else {"stringValue": value}


def otlp_span(span: Span) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": span.trace_id.hex(),
        "spanId": wire_id(span.span_id).hex(),
        "name": span.name,
        "kind": int(span.kind),
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": [{"key": k, "value": _otlp_value(v)} for k, v in span_attribute_items(span)],
        "status": {"code": int(span.status), "message": span.status_message} if span.status else {},
    }
    if span.parent_span_id:
        out["parentSpanId"] = wire_id(span.parent_span_id).hex()
    if exception_items(span):
        out["events"] = [
            {
                "timeUnixNano": str(span.end_ns),
                "name": "exception",
                "attributes": [{"key": k, "value": _otlp_value(v)} for k, v in exception_items(span)],
            }
        ]
    return out


def otlp_document(spans: Iterable[Span]) -> dict[str, Any]:
    """One ExportTraceServiceRequest in OTLP JSON: a resource per service, in first-seen order."""
    by_service: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        by_service.setdefault(span.service, []).append(otlp_span(span))
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": "streamproc.tools.generate"}, "spans": spans}],
            }
            for service, spans in by_service.items()
        ]
    }


# --- OTLP protobuf --------------------------------------------------------------------------------------


def otlp_request(spans: Iterable[Span]) -> PB2ExportTraceServiceRequest:
    """One ExportTraceServiceRequest (protobuf): a resource per service, in first-seen order."""

    def value(item: str | int) -> PB2AnyValue:
        return PB2AnyValue(int_value=item) if isinstance(item, int) else PB2AnyValue(string_value=item)

    by_service: dict[str, list[PB2Span]] = {}
    for span in spans:
        events = []
        if exception_items(span):
            events.append(
                PB2Span.Event(
                    time_unix_nano=span.end_ns,
                    name="exception",
                    attributes=[PB2KeyValue(key=k, value=value(v)) for k, v in exception_items(span)],
                )
            )
        by_service.setdefault(span.service, []).append(
            PB2Span(
                trace_id=span.trace_id,
                span_id=wire_id(span.span_id),
                parent_span_id=wire_id(span.parent_span_id),
                name=span.name,
                kind=PB2Span.SpanKind.ValueType(span.kind),
                start_time_unix_nano=span.start_ns,
                end_time_unix_nano=span.end_ns,
                attributes=[PB2KeyValue(key=k, value=value(v)) for k, v in span_attribute_items(span)],
                events=events,
                status=PB2Status(
                    code=PB2Status.StatusCode.ValueType(span.status), message=span.status_message
                ),
            )
        )
    request = PB2ExportTraceServiceRequest()
    for service, pb_spans in by_service.items():
        resource_spans = PB2ResourceSpans()
        resource_spans.resource.attributes.append(PB2KeyValue(key="service.name", value=value(service)))
        resource_spans.scope_spans.add(spans=pb_spans).scope.name = "streamproc.tools.send"
        request.resource_spans.append(resource_spans)
    return request
