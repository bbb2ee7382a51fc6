"""Zipkin v2 JSON (an array of spans, or an array of traces) into spans.

Times are microseconds; `duration` is optional (a span without one is kept, with duration 0); a span is an
error when its tags hold the key `error` (the value, unless it is "true" or empty, is the message);
`remoteEndpoint.serviceName` is the peer service.

A `shared` SERVER span reuses its client's span id. As Zipkin itself does, it becomes a span of its own,
a child of the client span, and a span naming that id as its parent hangs under the server span when its
local service is the server's, else under the client span (`_unshare`).
"""

from __future__ import annotations

from typing import Any

from streamproc.decode.common import (
    DecodeResult,
    SpanProblem,
    check_times,
    cut,
    extract_attributes,
    intern_text,
    parse_parent_id,
    parse_span_id,
    parse_trace_id,
    to_int,
)
from streamproc.jsonio import JSONError, loads
from streamproc.model import (
    SHARED_SERVER_SUFFIX,
    UNKNOWN_SERVICE,
    SkipReason,
    Span,
    SpanKind,
    StatusCode,
)
from streamproc.units import NS_PER_US

_KINDS = {
    "SERVER": SpanKind.SERVER,
    "CLIENT": SpanKind.CLIENT,
    "PRODUCER": SpanKind.PRODUCER,
    "CONSUMER": SpanKind.CONSUMER,
}


def zipkin_spans(doc: Any) -> list[Any] | None:
    """The flat list of span objects in a Zipkin v2 document, or None if it is not Zipkin's shape."""
    if not isinstance(doc, list):
        return None
    nested = all(isinstance(item, list) for item in doc)
    flat = [span for trace in doc for span in trace] if nested else doc
    if all(isinstance(span, dict) and "traceId" in span and "id" in span for span in flat):
        return flat
    return None


def decode_zipkin(doc: Any) -> DecodeResult:
    result = DecodeResult()
    shared: list[Span] = []
    others: list[Span] = []
    for raw in zipkin_spans(doc) or ():
        try:
            span = _span(raw)
        except SpanProblem as problem:
            result.skip(problem, raw, "traceId", "id")
            continue
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            result.skip(SpanProblem(SkipReason.BAD_FIELD, f"malformed span: {exc}"), raw, "traceId", "id")
            continue
        if raw.get("shared") is True and span.kind is SpanKind.SERVER:
            shared.append(span)
        else:
            others.append(span)
    result.spans = _unshare(shared, others) if shared else others
    return result


def _unshare(shared: list[Span], others: list[Span]) -> list[Span]:
    """Shared SERVER spans as spans of their own under their client span (id + SHARED_SERVER_SUFFIX), and
    the spans that name the shared id moved under the server span where they run in the server's service.
    A shared span whose client is not in the input keeps its id."""
    ids = {(s.trace_id, s.span_id) for s in others}
    servers: dict[tuple[bytes, bytes], Span] = {}
    kept = []
    for server in shared:
        key = (server.trace_id, server.span_id)
        if key in ids and key not in servers:
            servers[key] = server._replace(
                span_id=server.span_id + SHARED_SERVER_SUFFIX, parent_span_id=server.span_id
            )
        else:
            kept.append(server)
    spans = []
    for span in others:
        host = servers.get((span.trace_id, span.parent_span_id))
        if host is not None and span.service == host.service:
            spans.append(span._replace(parent_span_id=host.span_id))
        else:
            spans.append(span)
    return [*spans, *servers.values(), *kept]


def _span(raw: dict[str, Any]) -> Span:
    trace_id = parse_trace_id(raw.get("traceId"), sizes=(8, 16))
    span_id = parse_span_id(raw.get("id"))
    start_us = to_int(raw.get("timestamp"), "timestamp")
    duration_us = 0 if raw.get("duration") is None else to_int(raw.get("duration"), "duration")
    start_ns = start_us * NS_PER_US
    end_ns = (start_us + duration_us) * NS_PER_US
    check_times(start_ns, end_ns)

    tags = raw.get("tags") or {}
    local = raw.get("localEndpoint") or {}
    remote = raw.get("remoteEndpoint") or {}
    status, message = _status(tags)
    pairs: list[tuple[str, Any]] = []
    if remote.get("serviceName"):
        pairs.append(("peer.service", remote["serviceName"]))
    pairs.extend(tags.items())
    pairs.extend(_exception_fields(raw.get("annotations") or ()))
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parse_parent_id(raw.get("parentId")),
        service=intern_text(local.get("serviceName"), UNKNOWN_SERVICE),
        name=intern_text(raw.get("name")),
        kind=_KINDS.get(str(raw.get("kind", "")).upper(), SpanKind.INTERNAL),
        start_ns=start_ns,
        end_ns=end_ns,
        status=status,
        status_message=message,
        attributes=extract_attributes(pairs),
    )


def _status(tags: dict[str, Any]) -> tuple[StatusCode, str]:
    code = str(tags.get("otel.status_code", "")).upper()
    if "error" in tags or code == "ERROR":
        message = tags.get("otel.status_description") or tags.get("error") or ""
        return StatusCode.ERROR, "" if message in ("true", "True") else cut(str(message))
    if code == "OK":
        return StatusCode.OK, ""
    return StatusCode.UNSET, ""


def _exception_fields(annotations: Any) -> list[tuple[str, Any]]:
    """OTel's Zipkin exporter writes events as annotations whose value is `{"<event>": {attributes}}`."""
    for annotation in annotations:
        value = annotation.get("value") if isinstance(annotation, dict) else None
        if not isinstance(value, str) or not value.startswith('{"exception"'):
            continue
        try:
            event = loads(value).get("exception")
        except JSONError:
            continue
        if isinstance(event, dict):
            return list(event.items())
    return []
