"""Builders for tests: spans from small integers and milliseconds, so expectations can be computed by hand."""

from __future__ import annotations

from typing import Any

from streamproc.analyze import AnalysisSuite, build_tree
from streamproc.analyze.tree import TraceTree
from streamproc.model import Span, SpanAttributes, SpanKind, StatusCode, Trace

MS = 1_000_000
TRACE = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")


def sid(number: int) -> bytes:
    """Span id `number` as 8 bytes (0 means no parent)."""
    return number.to_bytes(8, "big") if number else b""


def span(
    number: int,
    parent: int,
    start_ms: float,
    end_ms: float,
    *,
    service: str = "svc",
    name: str | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    error: str | None = None,
    trace: bytes = TRACE,
    **attributes: Any,
) -> Span:
    return Span(
        trace_id=trace,
        span_id=sid(number),
        parent_span_id=sid(parent),
        service=service,
        name=name if name is not None else f"op{number}",
        kind=kind,
        start_ns=int(start_ms * MS),
        end_ns=int(end_ms * MS),
        status=StatusCode.ERROR if error is not None else StatusCode.UNSET,
        status_message=error or "",
        attributes=SpanAttributes(**attributes),
    )


def trace(*spans: Span) -> Trace:
    return Trace(spans[0].trace_id, spans)


def tree(*spans: Span) -> TraceTree:
    return build_tree(trace(*spans))


def suite_of(*traces: Trace, **options: Any) -> AnalysisSuite:
    from streamproc.analyze import AnalysisOptions

    suite = AnalysisSuite(AnalysisOptions(**options))
    for item in traces:
        suite.observe(item)
    return suite


def trace_id(number: int) -> bytes:
    return number.to_bytes(16, "big")


class FakeClock:
    """A clock tests move by hand: `clock()` is the time in ns, `advance(seconds)` moves it on."""

    def __init__(self, start_ns: int = 0) -> None:
        self.now_ns = start_ns

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * 1_000_000_000)


class RecordingSink:
    """An in-memory TraceSink: what the pipeline handed it, with the wall time it said."""

    def __init__(self) -> None:
        self.traces: list[tuple[bytes, int]] = []  # (trace id, now_ns)
        self.fragments: list[tuple[bytes, int]] = []
        self.skipped: list[tuple[int, int]] = []  # (spans, now_ns)

    def observe_trace(self, findings: Any, now_ns: int) -> None:
        self.traces.append((findings.tree.trace_id, now_ns))

    def observe_fragment(self, findings: Any, now_ns: int) -> None:
        self.fragments.append((findings.tree.trace_id, now_ns))

    def observe_skipped(self, spans: int, now_ns: int) -> None:
        self.skipped.append((spans, now_ns))
