"""Zipkin v2 JSON (an array of spans, or an array of traces) into spans.

Times are microseconds; a span is an error when its tags hold the key `error` (the value, unless it is
"true" or empty, is the message); `remoteEndpoint.serviceName` is the peer service; a `shared` SERVER
span reuses its client's span id, so it is given an id of its own and made the client's child.
"""

from __future__ import annotations

from typing import Any

from streamproc.decode.common import (
    SPAN_ID_BYTES,
    TRACE_ID_BYTES,
    DecodeResult,
    SpanProblem,
    check_times,
    extract_attributes,
    intern_text,
    parse_hex_id,
    parse_parent_id,
    to_int,
)
from streamproc.jsonio import JSONError, loads
from streamproc.model import UNKNOWN_SERVICE, SkipReason, Span, SpanKind, StatusCode
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
            result.spans.append(span)
    result.spans.extend(_unshare(shared, result.spans))
    return result


def _unshare(shared: list[Span], others: list[Span]) -> list[Span]:
    """Give each shared SERVER span an id of its own (the bitwise complement) under its client span."""
    clients = {(s.trace_id, s.span_id) for s in others if s.kind is SpanKind.CLIENT}
    spans = []
    for span in shared:
        if (span.trace_id, span.span_id) in clients:
            own_id = bytes(b ^ 0xFF for b in span.span_id)
            spans.append(span._replace(span_id=own_id, parent_span_id=span.span_id))
        else:
            spans.append(span)
    return spans


def _span(raw: dict[str, Any]) -> Span:
    trace_id = parse_hex_id(
        raw.get("traceId"),
        sizes=(8, 16),
        pad_to=TRACE_ID_BYTES,
        reason=SkipReason.BAD_TRACE_ID,
        what="trace id",
    )
    span_id = parse_hex_id(
        raw.get("id"), sizes=(8,), pad_to=SPAN_ID_BYTES, reason=SkipReason.BAD_SPAN_ID, what="span id"
    )
    start_us = to_int(raw.get("timestamp"), "timestamp")
    duration_us = to_int(raw.get("duration"), "duration")
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
        return StatusCode.ERROR, "" if message in ("true", "True") else str(message)
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
