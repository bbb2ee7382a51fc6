"""A Jaeger-compatible read API over the retained traces (an adapter; DESIGN section 10), in the JSON of
Jaeger's query service, so that Grafana's Jaeger data source and `analyze-traces --jaeger-url` open the
traces behind an alert or an exemplar:

    /api/services                          {"data": [service, ...]}
    /api/services/{service}/operations     {"data": [operation, ...]}
    /api/operations?service=&spanKind=     {"data": [{"name", "spanKind"}, ...]}
    /api/traces?service=&operation=&tags=&tag=&start=&end=&lookback=&minDuration=&maxDuration=&limit=
    /api/traces/{traceID}                  {"data": [trace]}, 404 when not retained
    /api/dependencies?endTs=&lookback=     {"data": [{"parent", "child", "callCount"}, ...]} (from the report)

Every answer has Jaeger's envelope (`data`, `total`, `limit`, `offset`, `errors`); a bad parameter gets 400
with the problem in `errors`, as Jaeger answers it. Times are µs since the epoch (`start`, `end`), ms for
`endTs` and `lookback` of dependencies; durations in Go's syntax (`1.5s`, `100ms`, `250us`).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from streamproc.analyze.schema import Report
from streamproc.analyze.suite import Section
from streamproc.errors import UsageError
from streamproc.jsonio import dumps
from streamproc.live.retained import RetainedTrace, TraceQuery, find_traces, operations, services
from streamproc.model import SpanKind
from streamproc.report.jaeger import jaeger_trace
from streamproc.units import NS_PER_MS, NS_PER_S, NS_PER_US, quoted

Answer = tuple[int, str, bytes]
JSON = "application/json"
DEFAULT_LIMIT = 100  # Jaeger's query service's default
MAX_LIMIT = 100_000
_GO_DURATION = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS_NS = {
    "ns": 1,
    "us": NS_PER_US,
    "µs": NS_PER_US,  # MICRO SIGN
    "μs": NS_PER_US,  # GREEK SMALL LETTER MU: Go takes both
    "ms": NS_PER_MS,
    "s": NS_PER_S,
    "m": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
}
_DIGITS = re.compile(r"[0-9]{1,19}")
_TRACE_ID = re.compile(r"[0-9a-fA-F]{1,32}")
_SPAN_KINDS = {kind.name.lower(): kind for kind in SpanKind if kind is not SpanKind.UNSPECIFIED}
_SEARCH_PARAMS = frozenset(
    {"service", "operation", "tags", "tag", "start", "end", "lookback", "minDuration", "maxDuration", "limit"}
)

Snapshot = Callable[[], list[RetainedTrace]]
DependencyReport = Callable[[int], Report]  # the live report's dependencies over a window (ns)


class JaegerApi:
    """Answers the Jaeger paths; `snapshot` copies the retained traces under the pipeline's lock."""

    def __init__(
        self, *, snapshot: Snapshot, dependencies: DependencyReport, now_ns: Callable[[], int]
    ) -> None:
        self._snapshot = snapshot
        self._dependencies = dependencies
        self._now_ns = now_ns

    def handles(self, path: str) -> bool:
        return path in ("/api/services", "/api/operations", "/api/traces", "/api/dependencies") or (
            path.startswith(("/api/services/", "/api/traces/"))
        )

    def answer(self, path: str, query: str) -> Answer:
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        try:
            return self._route(path, params)
        except UsageError as exc:
            return _error(400, str(exc))

    def _route(self, path: str, params: dict[str, list[str]]) -> Answer:
        exact = {
            "/api/services": self._services,
            "/api/operations": self._operations,
            "/api/traces": self._search,
            "/api/dependencies": self._dependency_links,
        }.get(path)
        if exact is not None:
            return exact(params)
        if path.startswith("/api/services/") and path.endswith("/operations"):
            service = urllib.parse.unquote(path.removeprefix("/api/services/").removesuffix("/operations"))
            return _ok(sorted({name for name, _kind in operations(self._snapshot(), service)}))
        if path.startswith("/api/traces/"):
            return self._trace(urllib.parse.unquote(path.removeprefix("/api/traces/")))
        return _error(404, f"no such path: {quoted(path)}")

    def _services(self, _params: dict[str, list[str]]) -> Answer:
        return _ok(services(self._snapshot()))

    def _operations(self, params: dict[str, list[str]]) -> Answer:
        service = _one(params, "service")
        if not service:
            raise UsageError("parameter 'service' is required")
        kind_text = _one(params, "spanKind")
        kind = None
        if kind_text:
            kind = _SPAN_KINDS.get(kind_text)
            if kind is None:
                raise UsageError(f"spanKind: {quoted(kind_text)} is not one of {', '.join(_SPAN_KINDS)}")
        found = [
            {"name": name, "spanKind": "" if k is SpanKind.UNSPECIFIED else k.name.lower()}
            for name, k in operations(self._snapshot(), service)
            if kind is None or k is kind
        ]
        return _ok(found)

    def _search(self, params: dict[str, list[str]]) -> Answer:
        query = search_query(params, now_ns=self._now_ns())
        found = find_traces(self._snapshot(), query)
        return _ok([jaeger_trace(entry.trace) for entry in found])

    def _trace(self, text: str) -> Answer:
        if not _TRACE_ID.fullmatch(text):
            raise UsageError(f"trace id: {quoted(text)} is not 1 to 32 hex digits")
        trace_id = bytes.fromhex(text.zfill(32))
        for entry in self._snapshot():
            if entry.trace.trace_id == trace_id:
                return _ok([jaeger_trace(entry.trace)])
        return _error(404, "trace not found (never received, or no longer retained)")

    def _dependency_links(self, params: dict[str, list[str]]) -> Answer:
        unknown = sorted(set(params) - {"endTs", "lookback"})
        if unknown:
            raise UsageError(f"unknown parameter(s): {', '.join(unknown)}")
        lookback_ms = _whole(params, "lookback", "lookback") or 3_600_000
        report = self._dependencies(lookback_ms * NS_PER_MS)
        edges = report.get("dependencies", {}).get("edges", [])
        return _ok(
            [{"parent": e["parent"], "child": e["child"], "callCount": e["call_count"]} for e in edges]
        )


def search_query(params: dict[str, list[str]], *, now_ns: int) -> TraceQuery:
    """`/api/traces` parameters as a TraceQuery; UsageError naming the first bad one."""
    unknown = sorted(set(params) - _SEARCH_PARAMS)
    if unknown:
        raise UsageError(f"unknown parameter(s): {', '.join(unknown)}")
    service = _one(params, "service")
    if not service:
        raise UsageError("parameter 'service' is required")
    operation = _one(params, "operation") or None
    start_us = _whole(params, "start", "start (µs since the epoch)")
    end_us = _whole(params, "end", "end (µs since the epoch)")
    lookback = _one(params, "lookback")
    start_ns = start_us * NS_PER_US if start_us is not None else None
    end_ns = end_us * NS_PER_US if end_us is not None else None
    if start_ns is None and lookback and lookback != "custom":
        start_ns = (end_ns if end_ns is not None else now_ns) - go_duration_ns(lookback, "lookback")
    if start_ns is not None and end_ns is not None and start_ns > end_ns:
        raise UsageError("start is after end")
    min_ns = _duration(params, "minDuration")
    max_ns = _duration(params, "maxDuration")
    if min_ns is not None and max_ns is not None and min_ns > max_ns:
        raise UsageError("minDuration is greater than maxDuration")
    limit = _whole(params, "limit", "limit")
    if limit is not None and not 0 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit: {limit} is out of range (0 to {MAX_LIMIT:,}; 0 means the default)")
    return TraceQuery(
        service=service,
        operation=operation,
        tags=tuple(sorted(_tags(params).items())),
        start_ns=start_ns,
        end_ns=end_ns,
        min_duration_ns=min_ns,
        max_duration_ns=max_ns,
        limit=limit or DEFAULT_LIMIT,
    )


def go_duration_ns(text: str, name: str) -> int:
    """A duration in Go's syntax (`1h30m`, `1.5s`, `250us`) as ns."""
    compact = text.strip()
    if not compact or len(compact) > 64 or _GO_DURATION.sub("", compact) != "":
        raise UsageError(f"{name}: {quoted(text)} is not a duration (examples: 100ms, 1.5s, 2m)")
    total = 0.0
    for part in _GO_DURATION.findall(compact):
        number = part.rstrip("nsuµμmh")
        total += float(number) * _GO_UNITS_NS[part[len(number) :]]
    return round(total)


def _tags(params: dict[str, list[str]]) -> dict[str, str]:
    """`tags` as a JSON object (Grafana's data source and Jaeger's UI send it so) and `tag=key:value`."""
    tags: dict[str, str] = {}
    text = _one(params, "tags")
    if text:
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            raise UsageError(f"tags: {quoted(text)} is not a JSON object") from None
        if not isinstance(parsed, dict):
            raise UsageError(f"tags: {quoted(text)} is not a JSON object")
        for key, value in parsed.items():
            tags[str(key)] = _tag_text(value)
    for item in params.get("tag", []):
        key, sep, value = item.partition(":")
        if not sep or not key:
            raise UsageError(f"tag: {quoted(item)} is not key:value")
        tags[key] = value
    return tags


def _tag_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _whole(params: dict[str, list[str]], name: str, what: str) -> int | None:
    text = _one(params, name)
    if text is None or text == "":
        return None
    if not _DIGITS.fullmatch(text):
        raise UsageError(f"{what}: {quoted(text)} is not a whole number")
    return int(text)


def _duration(params: dict[str, list[str]], name: str) -> int | None:
    text = _one(params, name)
    return go_duration_ns(text, name) if text else None


def _ok(data: list[Any]) -> Answer:
    return 200, JSON, dumps({"data": data, "total": len(data), "limit": 0, "offset": 0, "errors": None})


def _error(status: int, message: str) -> Answer:
    body = {"data": None, "total": 0, "limit": 0, "offset": 0, "errors": [{"code": status, "msg": message}]}
    return status, JSON, dumps(body)


DEPENDENCY_SECTIONS = frozenset({Section.DEPENDENCIES})
