"""Traces over a random topology of many services, and one very wide trace: inputs for the HTML report's
readability checks (50 services, 10,000-span traces)."""

from __future__ import annotations

import random

from streamproc.model import Span, SpanAttributes, SpanKind, StatusCode, Trace

MS = 1_000_000
START_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z


def topology(services: int, rng: random.Random) -> dict[int, list[int]]:
    """Service i calls two or three services with higher numbers: a DAG with shared downstreams; every
    service but the entries (0 to 2) is called by someone."""
    calls: dict[int, list[int]] = {i: [] for i in range(services)}
    for callee in range(3, services):
        calls[rng.randrange(max(0, callee - 12), callee)].append(callee)
    for caller in range(services - 1):
        extra = rng.randrange(caller + 1, services)
        if extra not in calls[caller] and rng.random() < 0.5:
            calls[caller].append(extra)
    return calls


class _Builder:
    """One trace over the topology: each visited service a SERVER span, each call a CLIENT span."""

    def __init__(self, trace_id: bytes, calls: dict[int, list[int]], rng: random.Random) -> None:
        self.trace_id, self.calls, self.rng = trace_id, calls, rng
        self.spans: list[Span] = []

    def visit(self, service: int, parent: bytes, begin: int, depth: int) -> int:
        """Adds the service's spans and its callees'; returns when it ended."""
        span_id = (len(self.spans) + 1).to_bytes(8, "big")
        index = len(self.spans)
        self.spans.append(None)  # type: ignore[arg-type]  # filled in once the children are known
        clock = begin + self.rng.randrange(1, 5) * MS
        failed = False
        for callee in self.calls[service]:
            if depth > 6 or self.rng.random() > 0.6:
                continue
            client_id = (len(self.spans) + 1).to_bytes(8, "big")
            client = len(self.spans)
            self.spans.append(None)  # type: ignore[arg-type]
            end = self.visit(callee, client_id, clock + MS, depth + 1) + MS
            callee_failed = self.spans[client + 1].status == StatusCode.ERROR
            failed |= callee_failed
            self.spans[client] = make_span(
                self.trace_id,
                client_id,
                span_id,
                service=service_name(service),
                name=f"call {service_name(callee)}",
                kind=SpanKind.CLIENT,
                start=clock,
                end=end,
                error=callee_failed,
            )
            clock = end
        end = clock + self.rng.randrange(1, 20) * MS
        self.spans[index] = make_span(
            self.trace_id,
            span_id,
            parent,
            service=service_name(service),
            name=f"GET /{service_name(service)}",
            kind=SpanKind.SERVER,
            start=begin,
            end=end,
            error=failed or self.rng.random() < 0.01,
        )
        return end


def service_name(number: int) -> str:
    return f"service-{number:02d}"


def wide_traces(*, services: int = 50, count: int = 200, seed: int = 5) -> list[Trace]:
    """`count` traces from random entry services of a random topology of `services` services."""
    rng = random.Random(seed)
    calls = topology(services, rng)
    traces = []
    for number in range(count):
        builder = _Builder((number + 1).to_bytes(16, "big"), calls, rng)
        builder.visit(rng.randrange(3), b"", START_NS + number * 100 * MS, 0)
        traces.append(Trace(builder.trace_id, tuple(builder.spans)))
    return traces


def make_span(
    trace_id: bytes,
    span_id: bytes,
    parent: bytes,
    *,
    service: str,
    name: str,
    kind: SpanKind,
    start: int,
    end: int,
    error: bool,
) -> Span:
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        service=service,
        name=name,
        kind=kind,
        start_ns=start,
        end_ns=end,
        status=StatusCode.ERROR if error else StatusCode.UNSET,
        status_message="HTTP 500" if error else "",
        attributes=SpanAttributes(),
    )


def fan_out_trace(width: int = 100) -> Trace:
    """One trace of `width` x `width` + 1 spans: a root, `width` children, each with `width - 1` leaves."""
    trace_id = (10**6).to_bytes(16, "big")
    root = (1).to_bytes(8, "big")
    spans = [
        make_span(
            trace_id,
            root,
            b"",
            service="gateway",
            name="GET /batch",
            kind=SpanKind.SERVER,
            start=START_NS,
            end=START_NS + 2000 * MS,
            error=False,
        )
    ]
    for child in range(width):
        child_id = (2 + child * width).to_bytes(8, "big")
        begin = START_NS + child * 19 * MS
        spans.append(
            make_span(
                trace_id,
                child_id,
                root,
                service="worker",
                name=f"chunk {child % 7}",
                kind=SpanKind.INTERNAL,
                start=begin,
                end=begin + 19 * MS,
                error=False,
            )
        )
        for leaf in range(width - 1):
            leaf_begin = begin + (leaf % 10) * MS
            spans.append(
                make_span(
                    trace_id,
                    (3 + child * width + leaf).to_bytes(8, "big"),
                    child_id,
                    service="worker",
                    name="read row",
                    kind=SpanKind.INTERNAL,
                    start=leaf_begin,
                    end=leaf_begin + MS // 2,
                    error=False,
                )
            )
    return Trace(trace_id, tuple(spans))
