"""Live wiring: decoded spans -> TraceAssembler -> analyzers -> metrics and report windows.

One lock guards the assembler, analyzers and metrics state: the gRPC handlers (ingest), the ticker
(expire), the scrape (collect) and report queries each take it briefly. Time comes from the clocks passed
in: a monotonic clock for trace assembly, the wall clock for report windows.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import structlog
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from streamproc.analyze.suite import ALL_SECTIONS, AnalysisOptions, Section, find
from streamproc.analyze.tree import build_tree
from streamproc.assembler import AssemblerLimits, CompletedTrace, Completion, TraceAssembler
from streamproc.decode.common import DecodeResult
from streamproc.filters import TraceFilter
from streamproc.metrics import LiveMetrics
from streamproc.model import SkipReason
from streamproc.windows import ReportWindows

Clock = Callable[[], int]


class LivePipeline(Collector):
    def __init__(
        self,
        *,
        limits: AssemblerLimits,
        options: AnalysisOptions,
        cardinality_limit: int,
        report_bucket_ns: int,
        report_retention_ns: int,
        report_recent_traces: int,
        monotonic: Clock = time.monotonic_ns,
        wall: Clock = time.time_ns,
    ) -> None:
        self._lock = threading.Lock()
        self._refusal_lock = threading.Lock()
        self._monotonic = monotonic
        self._wall = wall
        self.options = options
        self.assembler = TraceAssembler(limits)
        self.metrics = LiveMetrics(cardinality_limit=cardinality_limit, self_metrics=self._self_metrics)
        self.windows = ReportWindows(
            options,
            bucket_ns=report_bucket_ns,
            retention_ns=report_retention_ns,
            recent_traces=report_recent_traces,
        )
        self.spans_received = 0
        self.rejected: Counter[SkipReason] = Counter()
        self.refused: Counter[str] = Counter()  # spans in requests refused whole, by reason
        self.traces_analyzed = 0
        self.undecodable_requests = 0
        self.analysis_failures = 0  # spans of traces whose analysis raised (a bug): counted, never silent

    # --- feeding -------------------------------------------------------------------------------------

    def ingest(self, result: DecodeResult) -> None:
        """Spans of one request (and the ones its decoding rejected)."""
        with self._lock:
            self.spans_received += len(result.spans) + len(result.skipped)
            if result.skipped:
                self.rejected.update(s.reason for s in result.skipped)
                self.windows.skipped(len(result.skipped), self._wall())
            duplicates = self.assembler.duplicate_spans
            completed = self.assembler.add(result.spans, self._monotonic())
            if self.assembler.duplicate_spans != duplicates:
                self.windows.skipped(self.assembler.duplicate_spans - duplicates, self._wall())
            self._analyze(completed)

    def ingest_undecodable(self) -> None:
        """A request that was not an ExportTraceServiceRequest at all (answered INVALID_ARGUMENT)."""
        with self._refusal_lock:
            self.undecodable_requests += 1

    def refuse(self, span_count: int, reason: str) -> None:
        """A request refused whole (UNAVAILABLE): its spans were not received; the sender will retry.

        Counted under a lock of its own: refusing must stay quick precisely when the pipeline is busy.
        """
        with self._refusal_lock:
            self.refused[reason] += span_count

    def tick(self) -> int:
        """Complete the traces whose time has come; returns how many."""
        with self._lock:
            completed = self.assembler.expire(self._monotonic())
            self._analyze(completed)
            return len(completed)

    def seconds_until_due(self) -> float | None:
        """How long until the next buffered trace is due to complete (0 if overdue); None if none is."""
        with self._lock:
            due = self.assembler.next_due_ns()
            return None if due is None else max(0, due - self._monotonic()) / 1e9

    def drain(self) -> int:
        """Complete every buffered trace (shutdown); returns how many."""
        with self._lock:
            completed = self.assembler.drain()
            self._analyze(completed)
            return len(completed)

    def _analyze(self, completed: list[CompletedTrace]) -> None:
        if not completed:
            return
        now = self._wall()
        for item in completed:
            try:
                findings = find(build_tree(item.trace), self.options)
            except Exception:  # a bug must not lose the other traces of this batch, nor this one silently
                self.analysis_failures += len(item.trace.spans)
                structlog.get_logger().exception(
                    "trace_analysis_failed", trace_id=item.trace.trace_id.hex(), spans=len(item.trace.spans)
                )
                continue
            if item.late:
                self.metrics.observe_spans(findings)
                continue
            self.traces_analyzed += 1
            self.metrics.observe_trace(findings)
            self.windows.observe(findings, now)

    # --- reading -------------------------------------------------------------------------------------

    def report(
        self,
        *,
        window_ns: int,
        sections: frozenset[Section] = ALL_SECTIONS,
        top: int | None = None,
        rules: TraceFilter | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            return self.windows.report(
                window_ns=window_ns, now_ns=self._wall(), sections=sections, top=top, rules=rules
            )

    def buffer_state(self) -> dict[str, int]:
        with self._lock:
            return {"traces": self.assembler.buffered_traces, "spans": self.assembler.buffered_spans}

    def collect(self) -> Iterator[Metric]:
        """For the registry: every metric, rendered under the lock for a consistent scrape."""
        with self._lock:
            rendered = list(self.metrics.collect())
        yield from rendered

    def _self_metrics(self) -> Iterator[Metric]:
        a = self.assembler
        received = Metric(
            "streamproc_spans_received",
            "Spans received in OTLP requests (refused requests excluded).",
            "counter",
        )
        received.add_sample("streamproc_spans_received_total", {}, self.spans_received)
        dropped = Metric("streamproc_spans_dropped", "Spans received but not analyzed, by reason.", "counter")
        reasons: Counter[str] = Counter({reason.value: count for reason, count in self.rejected.items()})
        reasons[SkipReason.DUPLICATE_SPAN.value] += a.duplicate_spans
        reasons["analysis_failed"] = self.analysis_failures
        for reason in [*(r.value for r in SkipReason), "analysis_failed"]:
            dropped.add_sample("streamproc_spans_dropped_total", {"reason": reason}, reasons[reason])
        refused = Metric(
            "streamproc_spans_refused",
            "Spans in requests refused with UNAVAILABLE (the sender retries), by reason.",
            "counter",
        )
        for refusal in ("shutting_down", "over_capacity"):
            refused.add_sample("streamproc_spans_refused_total", {"reason": refusal}, self.refused[refusal])
        completed = Metric(
            "streamproc_traces_completed",
            "Traces completed by the assembler, by reason "
            "(max_traces, max_buffered_spans, max_spans_per_trace: early, partial).",
            "counter",
        )
        for completion in Completion:
            completed.add_sample(
                "streamproc_traces_completed_total", {"reason": completion.value}, a.completed[completion]
            )
        late = Metric(
            "streamproc_late_spans", "Spans that arrived after their trace had completed.", "counter"
        )
        late.add_sample("streamproc_late_spans_total", {}, a.late_spans)
        overflow = Metric(
            "streamproc_metric_label_overflow",
            "Metric updates folded into the overflow series because a family reached its cardinality limit.",
            "counter",
        )
        for name, count in self.metrics.overflow_counts().items():
            overflow.add_sample("streamproc_metric_label_overflow_total", {"metric": name}, count)
        buffered = _gauges(
            ("streamproc_buffered_traces", "Traces buffered in the assembler.", a.buffered_traces),
            ("streamproc_buffered_spans", "Spans buffered in the assembler.", a.buffered_spans),
            (
                "streamproc_buffer_limit_traces",
                "max_traces: the bound on buffered traces.",
                a.limits.max_traces,
            ),
            (
                "streamproc_buffer_limit_spans",
                "max_buffered_spans: the bound on buffered spans.",
                a.limits.max_buffered_spans,
            ),
        )
        undecodable = Metric(
            "streamproc_requests_undecodable",
            "OTLP requests that could not be decoded at all "
            "(answered INVALID_ARGUMENT; their spans cannot be counted).",
            "counter",
        )
        undecodable.add_sample("streamproc_requests_undecodable_total", {}, self.undecodable_requests)
        yield from (received, dropped, refused, completed, late, overflow, undecodable)
        yield from buffered


def _gauges(*specs: tuple[str, str, int]) -> list[Metric]:
    gauges = []
    for name, documentation, value in specs:
        gauge = Metric(name, documentation, "gauge")
        gauge.add_sample(name, {}, value)
        gauges.append(gauge)
    return gauges
