"""Spans as the Jaeger query service's JSON shows them: the inverse of `decode.jaeger`, written by
`streamproc generate` and served by the live Jaeger-compatible read API.

Only the attributes the span model keeps (DESIGN section 3) come back out; times are whole µs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from streamproc.model import ATTRIBUTE_KEYS, SPAN_ID_BYTES, Span, SpanKind, StatusCode, Trace
from streamproc.units import NS_PER_US

_INT_ATTRIBUTES = frozenset({"http_status_code"})
_EXCEPTION_FIELDS = frozenset({"exception_type", "exception_message"})


def wire_id(span_id: bytes) -> bytes:
    """A span id as the wire formats take it: 8 bytes. A Zipkin shared server's copy (the client's id plus
    a suffix byte) becomes the bitwise complement of the client's id, unique in its trace."""
    if len(span_id) <= SPAN_ID_BYTES:
        return span_id
    return bytes(b ^ 0xFF for b in span_id[:SPAN_ID_BYTES])


def span_attribute_items(span: Span) -> Iterator[tuple[str, str | int]]:
    """The span's attributes under their preferred keys (exception fields excluded: they are an event)."""
    for field, value in zip(span.attributes._fields, span.attributes, strict=True):
        if value is None or field in _EXCEPTION_FIELDS:
            continue
        numeric = field in _INT_ATTRIBUTES and value.isascii() and value.isdigit() and len(value) < 19
        yield ATTRIBUTE_KEYS[field][0], int(value) if numeric else value


def exception_items(span: Span) -> list[tuple[str, str]]:
    a = span.attributes
    return [
        (k, v)
        for k, v in (("exception.type", a.exception_type), ("exception.message", a.exception_message))
        if v
    ]


def _jaeger_tag(key: str, value: str | int | bool) -> dict[str, Any]:
    kind = "bool" if isinstance(value, bool) else "int64" if isinstance(value, int) else "string"
    return {"key": key, "type": kind, "value": value}


def span_tags(span: Span) -> dict[str, str]:
    """A span's tags as the Jaeger API shows them, as text: its kept attributes under their preferred keys,
    `span.kind`, `error` and `otel.status_code`, and the exception's fields."""
    tags = {key: str(value) for key, value in span_attribute_items(span)}
    tags.update(exception_items(span))
    if span.kind is not SpanKind.UNSPECIFIED:
        tags["span.kind"] = span.kind.name.lower()
    if span.status is StatusCode.ERROR:
        tags["error"] = "true"
        tags["otel.status_code"] = "ERROR"
    elif span.status is StatusCode.OK:
        tags["otel.status_code"] = "OK"
    return tags


def jaeger_trace(trace: Trace) -> dict[str, Any]:
    """One trace in the Jaeger query service's JSON (`/api/traces` entries): µs times, tags, processes."""
    processes: dict[str, str] = {}
    spans = []
    for span in trace.spans:
        pid = processes.setdefault(span.service, f"p{len(processes) + 1}")
        tags = [_jaeger_tag(k, v) for k, v in span_attribute_items(span)]
        if span.kind not in (SpanKind.UNSPECIFIED,):
            tags.append(_jaeger_tag("span.kind", span.kind.name.lower()))
        if span.status is StatusCode.ERROR:
            tags.append(_jaeger_tag("error", True))
            tags.append(_jaeger_tag("otel.status_code", "ERROR"))
            if span.status_message:
                tags.append(_jaeger_tag("otel.status_description", span.status_message))
        elif span.status is StatusCode.OK:
            tags.append(_jaeger_tag("otel.status_code", "OK"))
        logs = []
        if exception_items(span):
            fields = [_jaeger_tag("event", "exception")] + [
                _jaeger_tag(k, v) for k, v in exception_items(span)
            ]
            logs.append({"timestamp": span.end_ns // NS_PER_US, "fields": fields})
        references = []
        if span.parent_span_id:
            references.append(
                {
                    "refType": "CHILD_OF",
                    "traceID": span.trace_id.hex(),
                    "spanID": wire_id(span.parent_span_id).hex(),
                }
            )
        spans.append(
            {
                "traceID": span.trace_id.hex(),
                "spanID": wire_id(span.span_id).hex(),
                "operationName": span.name,
                "references": references,
                "startTime": span.start_ns // NS_PER_US,
                "duration": (span.end_ns - span.start_ns) // NS_PER_US,
                "tags": tags,
                "logs": logs,
                "processID": pid,
                "warnings": None,
            }
        )
    return {
        "traceID": trace.trace_id.hex(),
        "spans": spans,
        "processes": {pid: {"serviceName": service, "tags": []} for service, pid in processes.items()},
        "warnings": None,
    }
