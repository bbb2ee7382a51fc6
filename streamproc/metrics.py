"""Live metrics (DESIGN section 7) as a collect-on-scrape prometheus_client collector.

State is plain dicts updated by the pipeline under its own lock; `collect()` renders it at scrape time.
Every family has a cardinality limit: past it, new label sets fold into one series labelled only
`otel_metric_overflow="true"` (as the OTel SDKs do), and `streamproc_metric_label_overflow_total` counts the
folded updates per family. Histogram buckets carry the latest trace id as an exemplar (shown when scraped
as OpenMetrics). Counters and histograms stay correct when summed over instances.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar

from streamproc.analyze.suite import TraceFindings
from streamproc.analyze.tree import TraceTree
from streamproc.model import SpanKind, StatusCode

OVERFLOW_LABEL = "otel_metric_overflow"
TRACE_DURATION_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)
SPAN_DURATION_BUCKETS_MS = (2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000)
SERVICE_GRAPH_BUCKETS_S = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8)
_SPAN_KINDS = {kind: f"SPAN_KIND_{kind.name}" for kind in SpanKind}
_STATUS_CODES = {code: f"STATUS_CODE_{code.name}" for code in StatusCode}
NS_PER_MS = 1_000_000

Labels = tuple[str, ...]
T = TypeVar("T")


@dataclass(slots=True)
class _Histogram:
    counts: list[int]
    exemplars: list[str | None]
    total: float = 0.0

    def observe(self, bounds: Sequence[float], value: float, trace_id: str | None) -> None:
        index = bisect.bisect_left(bounds, value)
        self.counts[index] += 1
        self.total += value
        if trace_id is not None:
            self.exemplars[index] = trace_id


class _Family(Generic[T]):
    """One metric family with bounded label sets: the shared part of counters and histograms."""

    kind = ""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...], limit: int) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.limit = limit
        self.series: dict[Labels, T] = {}
        self.overflow: T | None = None
        self.overflowed = 0

    def _new(self) -> T:
        raise NotImplementedError

    def _slot(self, labels: Labels) -> T | None:
        """The series for `labels`, created while under the limit; None means the overflow series."""
        found = self.series.get(labels)
        if found is not None:
            return found
        if len(self.series) < self.limit:
            found = self.series[labels] = self._new()
            return found
        self.overflowed += 1
        return None

    def _items(self) -> list[tuple[dict[str, str], T]]:
        items = [
            (dict(zip(self.labelnames, labels, strict=True)), value) for labels, value in self.series.items()
        ]
        if self.overflow is not None:
            items.append(({OVERFLOW_LABEL: "true"}, self.overflow))
        return items


class CounterFamily(_Family[list[float]]):
    kind = "counter"

    def _new(self) -> list[float]:
        return [0.0]

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        cell = self._slot(labels)
        if cell is None:
            cell = self.overflow = self.overflow or [0.0]
        cell[0] += amount

    def render(self) -> Metric:
        base = self.name.removesuffix("_total")
        metric = Metric(base, self.documentation, "counter")
        for labels, cell in self._items():
            metric.add_sample(self.name, labels, cell[0])
        return metric


class HistogramFamily(_Family[_Histogram]):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: tuple[str, ...],
        limit: int,
        buckets: tuple[float, ...],
    ) -> None:
        super().__init__(name, documentation, labelnames, limit)
        self.buckets = buckets
        self._bounds = [*(str(float(b)) for b in buckets), "+Inf"]

    def _new(self) -> _Histogram:
        size = len(self.buckets) + 1
        return _Histogram([0] * size, [None] * size)

    def observe(self, labels: Labels, value: float, trace_id: str | None = None) -> None:
        histogram = self._slot(labels)
        if histogram is None:
            histogram = self.overflow = self.overflow or self._new()
        histogram.observe(self.buckets, value, trace_id)

    def render(self) -> Metric:
        metric = Metric(self.name, self.documentation, "histogram")
        for labels, histogram in self._items():
            cumulative = 0
            for bound, count, exemplar in zip(
                self._bounds, histogram.counts, histogram.exemplars, strict=True
            ):
                cumulative += count
                sample_exemplar = Exemplar({"trace_id": exemplar}, 0.0) if exemplar else None
                metric.add_sample(
                    f"{self.name}_bucket", {**labels, "le": bound}, cumulative, exemplar=sample_exemplar
                )
            metric.add_sample(f"{self.name}_count", labels, cumulative)
            metric.add_sample(f"{self.name}_sum", labels, histogram.total)
        return metric


class HistogramCount:
    """A counter equal, series by series, to a histogram's number of observations: `trace_total` beside
    `trace_duration_ms`, spanmetrics' calls beside its durations, the service graph's requests beside its
    client durations. Rendered from the histogram at scrape time, so the hot path updates one family, not
    two; the overflow series and overflow count are the histogram's, as they would be for a twin family."""

    kind = "counter"

    def __init__(self, name: str, documentation: str, histogram: HistogramFamily) -> None:
        self.name = name
        self.documentation = documentation
        self.histogram = histogram

    @property
    def overflowed(self) -> int:
        return self.histogram.overflowed

    def render(self) -> Metric:
        metric = Metric(self.name.removesuffix("_total"), self.documentation, "counter")
        for labels, histogram in self.histogram._items():
            metric.add_sample(self.name, labels, float(sum(histogram.counts)))
        return metric


class LiveMetrics(Collector):
    """Every metric streamproc serves. Updated by the pipeline (under its lock), rendered on scrape."""

    def __init__(self, *, cardinality_limit: int, self_metrics: Callable[[], Iterator[Metric]]) -> None:
        self._self_metrics = self_metrics
        limit = cardinality_limit
        root = ("service", "operation")
        span_labels = ("service_name", "span_name", "span_kind", "status_code")
        edge = ("client", "server", "connection_type")
        self.trace_duration = HistogramFamily(
            "trace_duration_ms",
            "Trace duration (latest span end minus earliest start) in ms, by root service and operation.",
            root,
            limit,
            TRACE_DURATION_BUCKETS_MS,
        )
        self.traces = HistogramCount(
            "trace_total", "Completed traces, by root service and operation.", self.trace_duration
        )
        self.trace_errors = CounterFamily(
            "trace_errors_total",
            "Completed traces with an erroring span, by root service and operation.",
            root,
            limit,
        )
        self.span_duration = HistogramFamily(
            "traces_span_metrics_duration_milliseconds",
            "Span durations in milliseconds (spanmetrics names).",
            span_labels,
            limit,
            SPAN_DURATION_BUCKETS_MS,
        )
        self.span_calls = HistogramCount(
            "traces_span_metrics_calls_total", "Spans (spanmetrics connector names).", self.span_duration
        )
        self.graph_client = HistogramFamily(
            "traces_service_graph_request_client_seconds",
            "Client-side duration of calls between services.",
            edge,
            limit,
            SERVICE_GRAPH_BUCKETS_S,
        )
        self.graph_requests = HistogramCount(
            "traces_service_graph_request_total",
            "Calls between services (Tempo's service graph names).",
            self.graph_client,
        )
        self.graph_failed = CounterFamily(
            "traces_service_graph_request_failed_total",
            "Failed calls between services (either side erroring).",
            edge,
            limit,
        )
        self.graph_server = HistogramFamily(
            "traces_service_graph_request_server_seconds",
            "Server-side duration of calls between services.",
            edge,
            limit,
            SERVICE_GRAPH_BUCKETS_S,
        )
        self.bottlenecks = CounterFamily(
            "trace_bottleneck_occurrences_total",
            "Traces in which the operation was a bottleneck (self time over the threshold share).",
            root,
            limit,
        )
        self.critical_path = CounterFamily(
            "trace_critical_path_seconds_total",
            "Time the operation spent on its traces' critical paths, in seconds.",
            root,
            limit,
        )
        self.error_spans = CounterFamily(
            "trace_error_spans_total",
            "Erroring spans by classification: originating (no erroring child) or propagated (an erroring "
            "child); handled counts OK spans with an erroring child.",
            (*root, "classification"),
            limit,
        )
        self.families: tuple[CounterFamily | HistogramFamily | HistogramCount, ...] = (
            self.trace_duration,
            self.traces,
            self.trace_errors,
            self.span_calls,
            self.span_duration,
            self.graph_requests,
            self.graph_failed,
            self.graph_server,
            self.graph_client,
            self.bottlenecks,
            self.critical_path,
            self.error_spans,
        )

    def observe_trace(self, findings: TraceFindings) -> None:
        """A completed trace: the per-trace family, analyses, span metrics and service graph."""
        tree = findings.tree
        root = tree.root
        key = (root.service, root.name)
        trace_id = tree.trace_id.hex()
        self.trace_duration.observe(key, tree.duration_ns / NS_PER_MS, trace_id)
        if tree.is_error:
            self.trace_errors.inc(key)
        spans = tree.spans
        for service, operation in findings.bottlenecks:
            self.bottlenecks.inc((service, operation))
        for index, critical_ns in findings.critical_ns.items():
            self.critical_path.inc((spans[index].service, spans[index].name), critical_ns / 1e9)
        for index, classification in findings.error_classes:
            self.error_spans.inc((spans[index].service, spans[index].name, classification.value))
        self.observe_spans(findings, trace_id)

    def observe_spans(self, findings: TraceFindings, trace_id: str | None = None) -> None:
        """Span metrics and service graph: for whole traces and for late fragments alike."""
        tree: TraceTree = findings.tree
        for span in tree.spans:
            labels = (span.service, span.name, _SPAN_KINDS[span.kind], _STATUS_CODES[span.status])
            self.span_duration.observe(labels, (span.end_ns - span.start_ns) / NS_PER_MS, trace_id)
        for call in findings.calls:
            edge = (call.parent, call.child, call.connection_type)
            if call.failed:
                self.graph_failed.inc(edge)
            self.graph_client.observe(edge, call.client_ns / 1e9, trace_id)
            if call.server_ns:
                self.graph_server.observe(edge, call.server_ns / 1e9, trace_id)

    def overflow_counts(self) -> dict[str, int]:
        return {family.name: family.overflowed for family in self.families}

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            yield family.render()
        yield from self._self_metrics()
