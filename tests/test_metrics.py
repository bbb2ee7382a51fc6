"""Metric families: cardinality limit with an overflow series, exposition names."""

from __future__ import annotations

import bisect

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streamproc.analyze.suite import AnalysisOptions, find
from streamproc.live.assembler import AssemblerLimits
from streamproc.live.families import CounterFamily, bucket_index
from streamproc.live.metrics import LiveMetrics, MetricsCollector, Scrape
from streamproc.live.pipeline import LivePipeline
from streamproc.live.retained import RetainedTraces
from streamproc.live.windows import ReportWindows
from streamproc.model import SpanKind
from tests.builders import span, trace_id, tree


def exposition(metrics: LiveMetrics) -> str:
    """The text exposition of `metrics` with an idle pipeline's self-metrics, as a scrape renders it."""
    idle = LivePipeline(limits=AssemblerLimits(), options=AnalysisOptions())
    registry = CollectorRegistry()
    windows = ReportWindows(
        AnalysisOptions(),
        bucket_ns=60 * 10**9,
        retention_ns=3600 * 10**9,
        recent_traces=10,
        recent_spans=1000,
        cardinality_limit=100,
    )
    retained = RetainedTraces(max_spans=0, errors_per_minute=5, exemplar_trace_ids=metrics.exemplar_trace_ids)

    def scrape() -> Scrape:
        return Scrape(metrics.render(), metrics.overflow_counts(), windows.state(), retained.state())

    registry.register(MetricsCollector(scrape, idle.stats))
    return generate_latest(registry).decode()


def test_label_sets_past_the_limit_fold_into_the_overflow_series():
    """The third label set with a limit of two goes to otel_metric_overflow="true" and is counted."""
    family = CounterFamily("things_total", "Things.", ("name",), limit=2)
    for name in ("a", "b", "c", "d", "a"):
        family.inc((name,))
    samples = {tuple(sorted(s.labels.items())): s.value for s in family.render().samples}
    assert samples == {(("name", "a"),): 2.0, (("name", "b"),): 1.0, (("otel_metric_overflow", "true"),): 2.0}
    assert family.overflowed == 2


def test_metric_names_in_the_text_exposition():
    """trace_total, trace_errors_total, trace_duration_ms_bucket and friends, as the alert rules expect."""
    metrics = LiveMetrics(cardinality_limit=100)
    t = tree(
        span(1, 0, 0, 600, service="api", name="GET /", kind=SpanKind.SERVER, trace=trace_id(1)),
        span(2, 1, 0, 10, service="api", name="x", error="boom", trace=trace_id(1)),
    )
    metrics.observe_trace(find(t, AnalysisOptions()), 0)
    names = {s.name for f in text_string_to_metric_families(exposition(metrics)) for s in f.samples}
    assert {
        "trace_total",
        "trace_errors_total",
        "trace_duration_ms_bucket",
        "trace_duration_ms_count",
        "traces_span_metrics_calls_total",
        "traces_span_metrics_duration_milliseconds_bucket",
        "trace_bottleneck_occurrences_total",
        "trace_critical_path_seconds_total",
        "trace_error_spans_total",
    } <= names


def test_call_counters_equal_their_histograms_counts_overflow_included():
    """trace_total, spanmetrics calls and service-graph requests are each their histogram's count."""
    metrics = LiveMetrics(cardinality_limit=2)
    for number, service in enumerate(["a", "b", "c", "a", "d"], start=1):
        t = tree(
            span(1, 0, 0, 50, service=service, name="GET /", kind=SpanKind.SERVER, trace=trace_id(number)),
            span(
                2,
                1,
                5,
                20,
                service=service,
                name="call",
                kind=SpanKind.CLIENT,
                trace=trace_id(number),
                peer_service="db",
            ),
        )
        metrics.observe_trace(find(t, AnalysisOptions()), 0)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(exposition(metrics))
        for s in f.samples
    }

    def series(name: str) -> dict:
        return {labels: value for (n, labels), value in samples.items() if n == name}

    traces = series("trace_total")
    assert traces == series("trace_duration_ms_count")
    assert traces[(("operation", "GET /"), ("service", "a"))] == 2.0
    assert traces[(("otel_metric_overflow", "true"),)] == 2.0  # c and d, past the limit of two
    assert series("traces_span_metrics_calls_total") == series(
        "traces_span_metrics_duration_milliseconds_count"
    )
    assert sum(series("traces_span_metrics_calls_total").values()) == 10.0
    requests = series("traces_service_graph_request_total")
    assert requests == series("traces_service_graph_request_client_seconds_count")
    assert sum(requests.values()) == 5.0
    overflow = metrics.overflow_counts()
    assert overflow["trace_total"] == overflow["trace_duration_ms"] == 2


@given(
    st.lists(st.floats(allow_nan=False), max_size=20).map(lambda bounds: tuple(sorted(bounds))),
    st.floats(allow_nan=True),
)
def test_bucket_index_is_bisect_left(bounds, value):
    """The histogram's written-out binary search finds the bucket bisect_left finds, NaN and infinities
    included."""
    assert bucket_index(bounds, value) == bisect.bisect_left(bounds, value)
