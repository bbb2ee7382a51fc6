"""OTLP JSON (`resourceSpans`, the older `instrumentationLibrarySpans`, Tempo's `batches`) into spans.

OTLP JSON rules: ids are hex strings (trace 32 digits, span 16), enums are integers (names accepted too),
64-bit integers may be strings or numbers, keys are lowerCamelCase. Ids in base64 (24 and 12 characters),
as protobuf's own JSON mapping and Tempo write them, are read too: the lengths tell the two apart.
The Collector's file exporter writes one such document per line (JSON Lines), a trace split across lines
and resources; the spans of every line are decoded alike and regrouped by trace id afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    scalar_text,
    to_int,
)
from streamproc.model import UNKNOWN_SERVICE, SkippedSpan, SkipReason, Span, SpanKind, StatusCode
from streamproc.units import quoted

_SCALAR_KEYS = ("stringValue", "intValue", "boolValue", "doubleValue")


def _resource_spans(doc: Any) -> Any:
    """The list of ResourceSpans: `resourceSpans`, or `batches` in Tempo's trace JSON; None otherwise."""
    if not isinstance(doc, dict):
        return None
    found = doc.get("resourceSpans", doc.get("batches"))
    return found if isinstance(found, list) else None


def is_otlp(doc: Any) -> bool:
    return _resource_spans(doc) is not None


def decode_otlp_json(doc: Any) -> DecodeResult:
    """Every span of the document; a resource or scope entry of the wrong shape is skipped with a reason
    (its spans cannot be counted: there is no list of them to count)."""
    result = DecodeResult()
    for resource_spans in _objects(_resource_spans(doc), "resourceSpans", result):
        resource = resource_spans.get("resource")
        attributes = dict(
            _attribute_pairs(resource.get("attributes") if isinstance(resource, dict) else None)
        )
        service = intern_text(attributes.get("service.name"), UNKNOWN_SERVICE)
        scopes = resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans")
        for scope in _objects(scopes, "scopeSpans", result):
            for raw in _objects(scope.get("spans"), "spans", result):
                try:
                    result.spans.append(_span(raw, service))
                except SpanProblem as problem:
                    result.skip(problem, raw, "traceId", "spanId")
                except (AttributeError, TypeError, ValueError, KeyError) as exc:
                    result.skip(
                        SpanProblem(SkipReason.BAD_FIELD, f"malformed span: {exc}"), raw, "traceId", "spanId"
                    )
    return result


def _objects(items: Any, what: str, result: DecodeResult) -> Iterator[dict[str, Any]]:
    """The objects of a JSON list (a missing list is empty); anything else is skipped with a reason."""
    if items is None:
        return
    if not isinstance(items, list):
        result.skipped.append(SkippedSpan(SkipReason.BAD_FIELD, f"{what} is not a list: {quoted(items)}"))
        return
    for item in items:
        if isinstance(item, dict):
            yield item
        else:
            result.skipped.append(SkippedSpan(SkipReason.BAD_FIELD, f"an entry of {what} is not an object"))


def any_value(value: Any) -> Any:
    """The scalar inside an OTLP JSON AnyValue (`{"intValue": "3"}` -> "3"); None for arrays and maps."""
    if not isinstance(value, dict):
        return None
    for key in _SCALAR_KEYS:
        if key in value:
            return value[key]
    return None


def _attribute_pairs(attributes: Any) -> Iterator[tuple[str, Any]]:
    """(key, scalar) of each attribute object with a string key; anything else is passed over."""
    if not isinstance(attributes, list):
        return
    for attribute in attributes:
        if isinstance(attribute, dict) and isinstance(key := attribute.get("key", ""), str):
            yield key, any_value(attribute.get("value"))


def _enum(value: Any, prefix: str, names: dict[str, int], what: str) -> int:
    if isinstance(value, str) and value.startswith(prefix):
        if value in names:
            return names[value]
        raise SpanProblem(SkipReason.BAD_FIELD, f"{what} {value!r} is unknown")
    if value is None:
        return 0
    return to_int(value, what)


_KIND_NAMES = {f"SPAN_KIND_{kind.name}": kind.value for kind in SpanKind}
_STATUS_NAMES = {f"STATUS_CODE_{code.name}": code.value for code in StatusCode}


def _span(raw: dict[str, Any], service: str) -> Span:
    trace_id = parse_trace_id(raw.get("traceId"), base64=True)
    span_id = parse_span_id(raw.get("spanId"), base64=True)
    start_ns = to_int(raw.get("startTimeUnixNano"), "startTimeUnixNano")
    end_ns = to_int(raw.get("endTimeUnixNano"), "endTimeUnixNano")
    check_times(start_ns, end_ns)
    kind_value = _enum(raw.get("kind"), "SPAN_KIND_", _KIND_NAMES, "kind")
    status = raw.get("status") or {}
    code_value = _enum(status.get("code"), "STATUS_CODE_", _STATUS_NAMES, "status code")
    try:
        kind, code = SpanKind(kind_value), StatusCode(code_value)
    except ValueError as exc:
        raise SpanProblem(SkipReason.BAD_FIELD, str(exc)) from None
    if not isinstance(raw.get("attributes", []), list):
        raise SpanProblem(SkipReason.BAD_FIELD, f"attributes is not a list: {quoted(raw.get('attributes'))}")
    pairs = list(_attribute_pairs(raw.get("attributes")))
    for event in raw.get("events") or ():
        if event.get("name") == "exception":
            pairs.extend(_attribute_pairs(event.get("attributes")))
            break
    message = status.get("message") or ""
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parse_parent_id(raw.get("parentSpanId"), base64=True),
        service=service,
        name=intern_text(raw.get("name")),
        kind=kind,
        start_ns=start_ns,
        end_ns=end_ns,
        status=code,
        status_message=cut(str(scalar_text(message) or "")) if code is StatusCode.ERROR else "",
        attributes=extract_attributes(pairs),
    )
