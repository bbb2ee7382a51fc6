"""Jaeger query-API JSON (`{"data": [trace, ...]}`, one bare trace object, or a bare array of spans with
the process inline, as Jaeger's anonymizer writes them) into spans.

Times are microseconds; the parent is the first CHILD_OF reference, else the first reference; the service
comes from the trace's `processes` (or a span's own `process`); errors are tag `error=true` or
`otel.status_code=ERROR`; the kind is tag `span.kind`; exceptions are logs with `event=exception`.

A `{"data": [...]}` document is first scanned for where each trace object starts and ends, then each
object is parsed straight into the typed structs below (msgspec builds them while it parses: no dict per
span, tag and reference), so the objects can be parsed in separate processes too (`forked`). A trace
object that does not fit the structs is parsed generically and each of its spans converted on its own,
so that a malformed span is skipped and counted rather than failing its trace or the file. Scalars are
typed `Any` so that bad ids, times and names reach the same checks, with the same reasons, on both paths.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Iterable
from typing import Any, Final

import msgspec
from msgspec.structs import astuple

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
from streamproc.decode.jaeger_structs import SPLIT_DOCUMENT, TRACE, JaegerLog, JaegerReference, JaegerSpan
from streamproc.model import UNKNOWN_SERVICE, SkippedSpan, SkipReason, Span, SpanKind, StatusCode, new_tuple
from streamproc.units import NS_PER_US

_KINDS = {
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
    "internal": SpanKind.INTERNAL,
}


_DATA_FIRST = re.compile(rb'\s*\{\s*"data"\s*:')


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
    if (
        isinstance(doc, list)
        and doc
        and all(isinstance(s, dict) and "spanID" in s and "traceID" in s for s in doc)
    ):
        return [{"spans": doc}]  # spans with their `process` inline
    return None


def decode_jaeger_document(data: bytes) -> DecodeResult | None:
    """The fast path for valid `{"data": [...]}` JSON; None for anything else (the generic path decides)."""
    traces = split_jaeger_document(data)
    return None if traces is None else decode_jaeger_texts(traces)


def split_jaeger_document(data: bytes | mmap.mmap) -> list[msgspec.Raw] | None:
    """The trace objects of valid `{"data": [...]}` JSON, each still as its JSON text; None otherwise.
    `data` may be a mapped file: the texts then refer into the mapping.

    Finding where each trace object starts and ends costs a fraction of parsing them (0.35 s for 624 MB),
    so the objects can be parsed and decoded in separate processes.
    """
    if not _DATA_FIRST.match(data):
        return None
    try:
        return SPLIT_DOCUMENT.decode(data).data
    except msgspec.DecodeError:
        return None


def decode_jaeger_texts(traces: Iterable[msgspec.Raw]) -> DecodeResult:
    """The spans of trace objects from `split_jaeger_document`: what `decode_bytes` gives for the whole
    document. A trace object that does not fit the typed structs is read as the generic path reads it."""
    result = DecodeResult()
    for text in traces:
        try:
            trace = TRACE.decode(text)
        except (msgspec.ValidationError, RecursionError):
            try:
                generic = msgspec.json.decode(text)
            except (msgspec.DecodeError, RecursionError) as exc:  # a number out of range, too deep
                problem = f"a trace object that cannot be read: {exc or 'nested too deeply'}"
                result.skipped.append(SkippedSpan(SkipReason.BAD_FIELD, problem))
                continue
            _decode_trace_object(generic, result)
            continue
        _decode_trace(trace.spans or (), trace.processes or {}, result, typed=True)
    return result


def decode_jaeger(doc: Any) -> DecodeResult:
    """Spans of a generically parsed Jaeger document; each span converted to the typed struct on its own."""
    result = DecodeResult()
    for trace in jaeger_traces(doc) or ():
        _decode_trace_object(trace, result)
    return result


def _decode_trace_object(trace: Any, result: DecodeResult) -> None:
    """One generically parsed trace object (anything but an object holds no spans)."""
    if not isinstance(trace, dict):
        return
    processes = trace.get("processes")
    _decode_trace(
        trace.get("spans") or (), processes if isinstance(processes, dict) else {}, result, typed=False
    )


def _decode_trace(spans: Any, processes: dict[str, Any], result: DecodeResult, *, typed: bool) -> None:
    services = _service_names(processes)
    trace_ids: dict[str, bytes] = {}
    span_ids: dict[str, bytes] = {}  # a span's id and its children's parent id: decoded once, one object
    for raw in spans:
        try:
            span = raw if typed else msgspec.convert(raw, JaegerSpan)
            result.spans.append(_span(span, services, trace_ids, span_ids))
        except SpanProblem as problem:
            result.skip(problem, raw, "traceID", "spanID")
        except (msgspec.ValidationError, AttributeError, TypeError, ValueError, KeyError) as exc:
            result.skip(SpanProblem(SkipReason.BAD_FIELD, f"malformed span: {exc}"), raw, "traceID", "spanID")


def _service_names(processes: dict[str, Any]) -> dict[str, str]:
    return {
        pid: intern_text(process.get("serviceName"), UNKNOWN_SERVICE)
        for pid, process in processes.items()
        if isinstance(process, dict)
    }


#: Positions of JaegerSpan's and JaegerReference's fields in `astuple`: one call reads every field (compiled,
#: each attribute of a struct defined in an interpreted module is a generic lookup, a span has 15 of them).
_SPAN_FIELDS = JaegerSpan.__struct_fields__
_TRACE_ID: Final = _SPAN_FIELDS.index("traceID")
_SPAN_ID: Final = _SPAN_FIELDS.index("spanID")
_PARENT_ID: Final = _SPAN_FIELDS.index("parentSpanID")
_NAME: Final = _SPAN_FIELDS.index("operationName")
_REFERENCES: Final = _SPAN_FIELDS.index("references")
_START: Final = _SPAN_FIELDS.index("startTime")
_DURATION: Final = _SPAN_FIELDS.index("duration")
_TAGS: Final = _SPAN_FIELDS.index("tags")
_LOGS: Final = _SPAN_FIELDS.index("logs")
_PROCESS_ID: Final = _SPAN_FIELDS.index("processID")
_PROCESS: Final = _SPAN_FIELDS.index("process")
_REF_TYPE: Final = JaegerReference.__struct_fields__.index("refType")
_REF_TRACE_ID: Final = JaegerReference.__struct_fields__.index("traceID")
_REF_SPAN_ID: Final = JaegerReference.__struct_fields__.index("spanID")


def _span(
    raw: JaegerSpan, services: dict[str, str], trace_ids: dict[str, bytes], span_ids: dict[str, bytes]
) -> Span:
    fields = astuple(raw)
    trace_id = _trace_id(fields[_TRACE_ID], trace_ids)
    raw_span_id = fields[_SPAN_ID]
    span_id = span_ids.get(raw_span_id) if isinstance(raw_span_id, str) else None
    if span_id is None:
        span_id = parse_span_id(raw_span_id, short=True)
        span_ids[raw_span_id] = span_id
    start_us, duration_us = fields[_START], fields[_DURATION]
    if type(start_us) is not int or type(duration_us) is not int:
        start_us = to_int(start_us, "startTime")
        duration_us = to_int(duration_us, "duration")
    start_ns = start_us * NS_PER_US
    end_ns = (start_us + duration_us) * NS_PER_US
    check_times(start_ns, end_ns)

    tags: dict[Any, Any] = {}
    for tag in fields[_TAGS] or ():
        key, value = astuple(tag)
        tags[key] = value
    process = fields[_PROCESS]
    if isinstance(process, dict):
        service = intern_text(process.get("serviceName"), UNKNOWN_SERVICE)
    else:
        service = services.get(fields[_PROCESS_ID], UNKNOWN_SERVICE)
    status, message = _status(tags)
    pairs: Iterable[tuple[Any, Any]] = tags.items()
    logs = fields[_LOGS]
    if logs:
        pairs = [*pairs, *_exception_fields(logs)]
    kind_tag = tags.get("span.kind")
    kind = _KINDS.get(kind_tag) if isinstance(kind_tag, str) else None
    return new_tuple(
        Span,
        (
            trace_id,
            span_id,
            _parent(fields[_REFERENCES], fields[_PARENT_ID], trace_id, trace_ids, span_ids),
            service,
            intern_text(fields[_NAME]),
            kind if kind is not None else _KINDS.get(str(kind_tag).lower(), SpanKind.UNSPECIFIED),
            start_ns,
            end_ns,
            status,
            message,
            extract_attributes(pairs),
        ),
    )


def _trace_id(value: Any, cache: dict[str, bytes]) -> bytes:
    """A trace id, decoded once per distinct id: every span and reference of a trace repeats it."""
    known = cache.get(value) if isinstance(value, str) else None
    if known is None:
        known = parse_trace_id(value, sizes=(8, 16), short=True)
        cache[value] = known
    return known


def _parent(
    references: list[JaegerReference] | None,
    parent_span_id: Any,
    trace_id: bytes,
    trace_ids: dict[str, bytes],
    span_ids: dict[str, bytes],
) -> bytes:
    if references:
        if len(references) == 1:  # the common case: one CHILD_OF
            only = astuple(references[0])
            if _same_trace(only[_REF_TRACE_ID], trace_id, trace_ids):
                return _parent_id(only[_REF_SPAN_ID], span_ids)
            return _parent_id(parent_span_id, span_ids)
        fields = [astuple(ref) for ref in references]
        same = [ref for ref in fields if _same_trace(ref[_REF_TRACE_ID], trace_id, trace_ids)]
        chosen = [ref for ref in same if ref[_REF_TYPE] == "CHILD_OF"] or same
        if chosen:
            return _parent_id(chosen[0][_REF_SPAN_ID], span_ids)
    return _parent_id(parent_span_id, span_ids)


def _parent_id(value: Any, span_ids: dict[str, bytes]) -> bytes:
    """A parent span id, shared with the span that has it (or will have it) as its own id."""
    known = span_ids.get(value) if isinstance(value, str) else None
    if known is not None:
        return known
    parent = parse_parent_id(value, short=True)
    if parent:
        span_ids[value] = parent
    return parent


def _same_trace(ref_trace: Any, trace_id: bytes, trace_ids: dict[str, bytes]) -> bool:
    """Whether a reference points into the span's own trace (a missing trace id means it does)."""
    if not isinstance(ref_trace, str) or not ref_trace:
        return True
    try:
        return _trace_id(ref_trace, trace_ids) == trace_id
    except SpanProblem:
        return False


def _status(tags: dict[str, Any]) -> tuple[StatusCode, str]:
    if "otel.status_code" not in tags and "error" not in tags:
        return StatusCode.UNSET, ""
    code = str(tags.get("otel.status_code", "")).upper()
    message = tags.get("otel.status_description") or tags.get("error.message") or ""
    if code == "ERROR" or tags.get("error") in (True, "true", "True"):
        return StatusCode.ERROR, cut(str(message))
    if code == "OK":
        return StatusCode.OK, ""
    return StatusCode.UNSET, ""


def _exception_fields(logs: list[JaegerLog]) -> list[tuple[str, Any]]:
    for log in logs:
        fields = {f.key: f.value for f in log.fields or ()}
        if fields.get("event") == "exception":
            return [(k, v) for k, v in fields.items() if k in ("exception.type", "exception.message")]
    return []
