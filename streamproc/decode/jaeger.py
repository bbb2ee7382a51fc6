"""Jaeger query-API JSON (`{"data": [trace, ...]}`, or one bare trace object) into spans.

Times are microseconds; the parent is the first CHILD_OF reference, else the first reference; the service
comes from the trace's `processes` (or a span's own `process`); errors are tag `error=true` or
`otel.status_code=ERROR`; the kind is tag `span.kind`; exceptions are logs with `event=exception`.
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
from streamproc.model import UNKNOWN_SERVICE, SkipReason, Span, SpanKind, StatusCode

_KINDS = {
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
    "internal": SpanKind.INTERNAL,
}
_MICROS = 1_000


def jaeger_traces(doc: Any) -> list[Any] | None:
    """The list of trace objects in a Jaeger document, or None if the document is not Jaeger's shape."""
    if isinstance(doc, dict):
        if isinstance(doc.get("data"), list):
            return list(doc["data"])
        if isinstance(doc.get("spans"), list) and ("traceID" in doc or "processes" in doc):
            return [doc]
        return None
    if isinstance(doc, list) and doc and all(isinstance(t, dict) and "spans" in t for t in doc):
        return doc
    return None


def decode_jaeger(doc: Any) -> DecodeResult:
    result = DecodeResult()
    for trace in jaeger_traces(doc) or ():
        if not isinstance(trace, dict):
            continue
        processes = trace.get("processes")
        services = _service_names(processes if isinstance(processes, dict) else {})
        trace_ids: dict[str, bytes] = {}
        for raw in trace.get("spans") or ():
            try:
                result.spans.append(_span(raw, services, trace_ids))
            except SpanProblem as problem:
                result.skip(problem, raw, "traceID", "spanID")
            except (AttributeError, TypeError, ValueError, KeyError) as exc:
                result.skip(
                    SpanProblem(SkipReason.BAD_FIELD, f"malformed span: {exc}"), raw, "traceID", "spanID"
                )
    return result


def _service_names(processes: dict[str, Any]) -> dict[str, str]:
    return {
        pid: intern_text(process.get("serviceName"), UNKNOWN_SERVICE)
        for pid, process in processes.items()
        if isinstance(process, dict)
    }


def _span(raw: dict[str, Any], services: dict[str, str], trace_ids: dict[str, bytes]) -> Span:
    trace_id = _trace_id(raw.get("traceID"), trace_ids)
    span_id = parse_hex_id(
        raw.get("spanID"), sizes=(8,), pad_to=SPAN_ID_BYTES, reason=SkipReason.BAD_SPAN_ID, what="span id"
    )
    start_us = to_int(raw.get("startTime"), "startTime")
    duration_us = to_int(raw.get("duration"), "duration")
    start_ns = start_us * _MICROS
    end_ns = (start_us + duration_us) * _MICROS
    check_times(start_ns, end_ns)

    tags = {tag["key"]: tag.get("value") for tag in raw.get("tags") or ()}
    process = raw.get("process")
    if isinstance(process, dict):
        service = intern_text(process.get("serviceName"), UNKNOWN_SERVICE)
    else:
        service = services.get(raw.get("processID", ""), UNKNOWN_SERVICE)
    status, message = _status(tags)
    pairs = list(tags.items())
    pairs.extend(_exception_fields(raw.get("logs") or ()))
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=_parent(raw, trace_id, trace_ids),
        service=service,
        name=intern_text(raw.get("operationName")),
        kind=_KINDS.get(str(tags.get("span.kind", "")).lower(), SpanKind.UNSPECIFIED),
        start_ns=start_ns,
        end_ns=end_ns,
        status=status,
        status_message=message,
        attributes=extract_attributes(pairs),
    )


def _trace_id(value: Any, cache: dict[str, bytes]) -> bytes:
    """A trace id, decoded once per distinct id: every span and reference of a trace repeats it."""
    known = cache.get(value) if isinstance(value, str) else None
    if known is None:
        known = parse_hex_id(
            value, sizes=(8, 16), pad_to=TRACE_ID_BYTES, reason=SkipReason.BAD_TRACE_ID, what="trace id"
        )
        cache[value] = known
    return known


def _parent(raw: dict[str, Any], trace_id: bytes, trace_ids: dict[str, bytes]) -> bytes:
    references = [
        ref
        for ref in raw.get("references") or ()
        if isinstance(ref, dict) and _same_trace(ref.get("traceID"), trace_id, trace_ids)
    ]
    child_of = [ref for ref in references if ref.get("refType", "CHILD_OF") == "CHILD_OF"]
    chosen = child_of or references
    if chosen:
        return parse_parent_id(chosen[0].get("spanID"))
    return parse_parent_id(raw.get("parentSpanID"))


def _same_trace(ref_trace: Any, trace_id: bytes, trace_ids: dict[str, bytes]) -> bool:
    """Whether a reference points into the span's own trace (a missing trace id means it does)."""
    if not isinstance(ref_trace, str) or not ref_trace:
        return True
    try:
        return _trace_id(ref_trace, trace_ids) == trace_id
    except SpanProblem:
        return False


def _status(tags: dict[str, Any]) -> tuple[StatusCode, str]:
    code = str(tags.get("otel.status_code", "")).upper()
    message = tags.get("otel.status_description") or tags.get("error.message") or ""
    if code == "ERROR" or tags.get("error") in (True, "true", "True"):
        return StatusCode.ERROR, str(message)
    if code == "OK":
        return StatusCode.OK, ""
    return StatusCode.UNSET, ""


def _exception_fields(logs: Any) -> list[tuple[str, Any]]:
    for log in logs:
        fields = {f.get("key"): f.get("value") for f in log.get("fields") or () if isinstance(f, dict)}
        if fields.get("event") == "exception":
            return [(k, v) for k, v in fields.items() if k in ("exception.type", "exception.message")]
    return []
