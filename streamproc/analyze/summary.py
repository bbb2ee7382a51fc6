"""Summary: trace and span counts, error counts and rate, time range, trace duration statistics."""

from __future__ import annotations

from typing import Any, Protocol

from streamproc.analyze.histogram import count_durations, report_bins
from streamproc.analyze.schema import Summary
from streamproc.analyze.stats import pct, percentiles
from streamproc.analyze.tree import TraceTree
from streamproc.units import NS_PER_MS, iso_time, ms

QUANTILES = (50, 95, 99)


class DurationStore(Protocol):
    """Where the summary keeps trace durations for percentiles: exact (batch) or a sketch (live windows)."""

    def add(self, duration_ns: int) -> None: ...

    def merge(self, other: Any) -> None: ...

    def quantiles(self, percents: tuple[int, ...]) -> list[float]: ...

    def histogram(self) -> dict[int, int]:
        """Counts per bin of the report's logarithmic grid (`analyze.histogram`)."""
        ...


class ExactDurations:
    """Every trace duration, for exact percentiles: the batch path, where the input bounds the size."""

    def __init__(self) -> None:
        self.values: list[int] = []

    def add(self, duration_ns: int) -> None:
        self.values.append(duration_ns)

    def merge(self, other: ExactDurations) -> None:
        self.values.extend(other.values)

    def quantiles(self, percents: tuple[int, ...]) -> list[float]:
        return percentiles(self.values, percents)

    def histogram(self) -> dict[int, int]:
        return count_durations(self.values)


class SummaryAnalyzer:
    """Counts, time range and trace durations; percentiles come from a pluggable duration store."""

    def __init__(self, durations: DurationStore | None = None) -> None:
        self.trace_count = 0
        self.span_count = 0
        self.error_traces = 0
        self.error_spans = 0
        self.partial_traces = 0
        self.malformed_traces = 0
        self.start_ns: int | None = None
        self.end_ns: int | None = None
        self.durations: DurationStore = durations if durations is not None else ExactDurations()
        self.total_ns = 0
        self.min_ns: int | None = None
        self.max_ns: int | None = None

    def observe(self, tree: TraceTree) -> None:
        self.trace_count += 1
        self.span_count += len(tree.spans)
        self.error_spans += tree.error_span_count
        self.error_traces += tree.is_error
        self.partial_traces += tree.partial
        self.malformed_traces += tree.malformed
        duration = tree.duration_ns
        self.durations.add(duration)
        self.total_ns += duration
        self.min_ns = duration if self.min_ns is None else min(self.min_ns, duration)
        self.max_ns = duration if self.max_ns is None else max(self.max_ns, duration)
        self.start_ns = tree.start_ns if self.start_ns is None else min(self.start_ns, tree.start_ns)
        self.end_ns = tree.end_ns if self.end_ns is None else max(self.end_ns, tree.end_ns)

    def merge(self, other: SummaryAnalyzer) -> None:
        self.trace_count += other.trace_count
        self.span_count += other.span_count
        self.error_traces += other.error_traces
        self.error_spans += other.error_spans
        self.partial_traces += other.partial_traces
        self.malformed_traces += other.malformed_traces
        self.durations.merge(other.durations)
        self.total_ns += other.total_ns
        if other.min_ns is not None and other.max_ns is not None:
            self.min_ns = other.min_ns if self.min_ns is None else min(self.min_ns, other.min_ns)
            self.max_ns = other.max_ns if self.max_ns is None else max(self.max_ns, other.max_ns)
        for bound in (other.start_ns, other.end_ns):
            if bound is not None:
                self.start_ns = bound if self.start_ns is None else min(self.start_ns, bound)
                self.end_ns = bound if self.end_ns is None else max(self.end_ns, bound)

    @property
    def error_rate(self) -> float:
        return pct(self.error_traces, self.trace_count)

    def report(self, *, skipped_spans: int) -> Summary:
        count = self.trace_count
        p50, p95, p99 = self.durations.quantiles(QUANTILES) if count else (0.0, 0.0, 0.0)
        return {
            "trace_count": self.trace_count,
            "span_count": self.span_count,
            "error_count": self.error_traces,
            "error_span_count": self.error_spans,
            "error_rate": self.error_rate,
            "skipped_spans": skipped_spans,
            "malformed_traces": self.malformed_traces,
            "time_range": {"start": iso_time(self.start_ns), "end": iso_time(self.end_ns)},
            "duration_stats": {
                "min_ms": ms(self.min_ns or 0),
                "mean_ms": round(self.total_ns / count / NS_PER_MS, 3) if count else 0.0,
                "p50_ms": ms(p50),
                "p95_ms": ms(p95),
                "p99_ms": ms(p99),
                "max_ms": ms(self.max_ns or 0),
            },
            "duration_histogram": report_bins(self.durations.histogram()),
        }
