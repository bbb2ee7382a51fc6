"""Every metric `/metrics` serves (DESIGN section 7): the families of completed traces (`LiveMetrics`, a
sink of the pipeline) and the self-metrics rendered from the pipeline's stats, in one registered collector.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from streamproc.analyze.suite import TraceFindings
from streamproc.analyze.tree import TraceTree
from streamproc.live.assembler import Completion
from streamproc.live.families import CounterFamily, HistogramCount, HistogramFamily
from streamproc.live.pipeline import ANALYSIS_FAILED, REFUSALS, TRANSPORTS, WORKER_LOST, PipelineStats
from streamproc.live.retained import HELD, RetainedState
from streamproc.live.windows import WindowsState
from streamproc.model import SkipReason, SpanKind, StatusCode
from streamproc.units import NS_PER_MS, NS_PER_S

TRACE_DURATION_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)
SPAN_DURATION_BUCKETS_MS = (2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000)
SERVICE_GRAPH_BUCKETS_S = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8)
_SPAN_KINDS = {kind: f"SPAN_KIND_{kind.name}" for kind in SpanKind}
_STATUS_CODES = {code: f"STATUS_CODE_{code.name}" for code in StatusCode}
_DROP_REASONS = (*(reason.value for reason in SkipReason), ANALYSIS_FAILED, WORKER_LOST)


class Scrape(NamedTuple):
    """What a scrape reads from the sinks at one moment (a worker process sends it to the parent)."""

    families: list[Metric]  # the rendered families of completed traces
    overflow: dict[str, int]  # label-set overflows by family
    windows: WindowsState
    retained: RetainedState


class MetricsCollector(Collector):
    """What a scrape renders: the families and sink levels from `scrape` (read under the pipeline's lock),
    then the self-metrics from `stats`. Register it with a `CollectorRegistry`."""

    def __init__(self, scrape: Callable[[], Scrape], stats: Callable[[], PipelineStats]) -> None:
        self._scrape = scrape
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        scrape = self._scrape()
        yield from scrape.families
        yield from self_metrics(self._stats(), scrape.overflow, scrape.windows)
        yield from retained_metrics(scrape.retained)


class LiveMetrics:
    """The metric families of completed traces (a `TraceSink`): updated under the pipeline's lock,
    rendered on scrape."""

    def __init__(self, *, cardinality_limit: int) -> None:
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
        self.insights = CounterFamily(
            "trace_insights_total",
            "Insights found in completed traces (n_plus_one, sequential_calls, retry_storm, "
            "cascading_timeout), by kind and the service and operation making the calls.",
            ("kind", "service", "operation"),
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
            self.insights,
        )

    def observe_trace(self, findings: TraceFindings, now_ns: int = 0) -> None:
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
            self.critical_path.inc((spans[index].service, spans[index].name), critical_ns / NS_PER_S)
        for index, classification in findings.error_classes:
            self.error_spans.inc((spans[index].service, spans[index].name, classification.value))
        for insight in findings.insights:
            self.insights.inc((insight.kind.value, insight.service, insight.operation))
        self._observe_spans(findings, trace_id)

    def observe_fragment(self, findings: TraceFindings, now_ns: int = 0) -> None:
        """Late spans: span metrics and the service graph, never a trace."""
        self._observe_spans(findings, None)

    def observe_skipped(self, spans: int, now_ns: int) -> None:
        """Skipped spans are counted in the self-metrics, from the pipeline's stats."""

    def _observe_spans(self, findings: TraceFindings, trace_id: str | None) -> None:
        """Span metrics and service graph: for whole traces and for late fragments alike."""
        tree: TraceTree = findings.tree
        for span in tree.spans:
            labels = (span.service, span.name, _SPAN_KINDS[span.kind], _STATUS_CODES[span.status])
            self.span_duration.observe(labels, (span.end_ns - span.start_ns) / NS_PER_MS, trace_id)
        for call in findings.calls:
            edge = (call.parent, call.child, call.connection_type)
            if call.failed:
                self.graph_failed.inc(edge)
            self.graph_client.observe(edge, call.client_ns / NS_PER_S, trace_id)
            if call.server_ns:
                self.graph_server.observe(edge, call.server_ns / NS_PER_S, trace_id)

    def overflow_counts(self) -> dict[str, int]:
        return {family.name: family.overflowed for family in self.families}

    def exemplar_trace_ids(self) -> Iterator[str]:
        """Every trace id an exemplar names now (the retained store holds these last)."""
        for family in self.families:
            if isinstance(family, HistogramFamily):
                yield from family.exemplar_trace_ids()

    def render(self, shows: Callable[[str], bool] | None = None) -> list[Metric]:
        return [
            family.render(shows) if isinstance(family, HistogramFamily) else family.render()
            for family in self.families
        ]


def retained_metrics(state: RetainedState) -> list[Metric]:
    """The retained store's levels and what its sweeps evicted."""
    evicted = _counter(
        "streamproc_retained_evicted_traces",
        "Traces swept from the retained store, by what had held them (none; kept: the slowest or an erroring "
        "trace of its minute; exemplar).",
        "held",
        {held: state.evicted.get(held, 0) for held in HELD},
    )
    too_large = _counter(
        "streamproc_retained_too_large_traces",
        "Traces with more spans than the whole retained store, not kept.",
        "",
        {"": state.too_large},
    )
    return [
        evicted,
        too_large,
        *_gauges(
            ("streamproc_retained_traces", "Whole traces in the retained store.", state.traces),
            ("streamproc_retained_spans", "Spans of the traces in the retained store.", state.spans),
            (
                "streamproc_retained_limit_spans",
                "retained_spans: the bound on those spans.",
                state.limit_spans,
            ),
        ),
    ]


def _counter(name: str, documentation: str, labels: str, values: dict[Any, int]) -> Metric:
    """A counter family `name`_total with one sample per value of its labels (`labels`: comma-separated
    names; a key is the one label's value, or a tuple of the labels' values)."""
    metric = Metric(name, documentation, "counter")
    names = labels.split(",") if labels else []
    for key, count in values.items():
        keys = key if isinstance(key, tuple) else (key,)
        metric.add_sample(f"{name}_total", dict(zip(names, keys, strict=False)), count)
    return metric


def self_metrics(stats: PipelineStats, overflow: dict[str, int], windows: WindowsState) -> list[Metric]:
    """The `streamproc_*` families: what the pipeline received, dropped, refused, completed and holds, and
    what the report windows hold."""
    counters = [
        _counter(
            "streamproc_spans_received",
            "Spans received in OTLP requests (refused requests excluded), by transport (grpc, http).",
            "transport",
            {transport: stats.received.get(transport, 0) for transport in TRANSPORTS},
        ),
        _counter(
            "streamproc_spans_dropped",
            "Spans received but not analyzed, by reason.",
            "reason",
            {reason: stats.dropped.get(reason, 0) for reason in _DROP_REASONS},
        ),
        _counter(
            "streamproc_spans_refused",
            "Spans in requests refused with UNAVAILABLE or HTTP 503 (the sender retries), "
            "by transport and reason.",
            "transport,reason",
            {(t, reason): stats.refused.get((t, reason), 0) for t in TRANSPORTS for reason in REFUSALS},
        ),
        _counter(
            "streamproc_traces_completed",
            "Traces completed by the assembler, by reason "
            "(max_traces, max_buffered_spans, max_spans_per_trace: early, partial).",
            "reason",
            {completion.value: stats.assembler.completed.get(completion, 0) for completion in Completion},
        ),
        _counter(
            "streamproc_late_spans",
            "Spans that arrived after their trace had completed.",
            "",
            {"": stats.assembler.late_spans},
        ),
        _counter(
            "streamproc_metric_label_overflow",
            "Metric updates folded into the overflow series because a family reached its cardinality limit.",
            "metric",
            overflow,
        ),
        _counter(
            "streamproc_malformed_traces",
            "Traces whose parent chains looped: cut at the loop's earliest span and analyzed all the same.",
            "",
            {"": stats.malformed_traces},
        ),
        _counter(
            "streamproc_auth_failures",
            "Requests refused for a missing or wrong bearer token, by listener.",
            "listener",
            {listener: stats.auth_failures.get(listener, 0) for listener in ("grpc", "otlp_http", "http")},
        ),
        _counter(
            "streamproc_requests_undecodable",
            "OTLP requests that could not be decoded at all "
            "(answered INVALID_ARGUMENT or HTTP 400; their spans cannot be counted), by transport.",
            "transport",
            {transport: stats.undecodable_requests.get(transport, 0) for transport in TRANSPORTS},
        ),
        _counter(
            "streamproc_worker_restarts",
            "Worker processes that died and were replaced (their buffered spans: dropped, worker_lost).",
            "",
            {"": stats.worker_restarts},
        ),
    ]
    buffer = stats.assembler
    gauges = [
        (
            "streamproc_workers",
            "Processes that assemble and analyze traces (serve --workers).",
            stats.workers,
        ),
        ("streamproc_buffered_traces", "Traces buffered in the assembler.", buffer.buffered_traces),
        ("streamproc_buffered_spans", "Spans buffered in the assembler.", buffer.buffered_spans),
        (
            "streamproc_buffer_limit_traces",
            "max_traces: the bound on buffered traces.",
            buffer.limits.max_traces,
        ),
        (
            "streamproc_buffer_limit_spans",
            "max_buffered_spans: the bound on buffered spans.",
            buffer.limits.max_buffered_spans,
        ),
        (
            "streamproc_report_recent_traces",
            "Recent traces kept for filtered reports.",
            windows.recent_traces,
        ),
        (
            "streamproc_report_recent_spans",
            "Spans of the recent traces kept for filtered reports.",
            windows.recent_spans,
        ),
        (
            "streamproc_report_limit_spans",
            "report_recent_spans: the bound on those spans.",
            windows.recent_spans_limit,
        ),
    ]
    return [*counters, *_gauges(*gauges)]


def _gauges(*specs: tuple[str, str, int]) -> list[Metric]:
    gauges = []
    for name, documentation, level in specs:
        gauge = Metric(name, documentation, "gauge")
        gauge.add_sample(name, {}, level)
        gauges.append(gauge)
    return gauges
