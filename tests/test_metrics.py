"""Metric families: cardinality limit with an overflow series, exposition names."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streamproc.analyze.suite import AnalysisOptions, find
from streamproc.metrics import CounterFamily, LiveMetrics
from streamproc.model import SpanKind
from tests.builders import span, trace_id, tree


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
    metrics = LiveMetrics(cardinality_limit=100, self_metrics=lambda: iter(()))
    t = tree(
        span(1, 0, 0, 600, service="api", name="GET /", kind=SpanKind.SERVER, trace=trace_id(1)),
        span(2, 1, 0, 10, service="api", name="x", error="boom", trace=trace_id(1)),
    )
    metrics.observe_trace(find(t, AnalysisOptions()))
    registry = CollectorRegistry()
    registry.register(metrics)
    names = {
        s.name for f in text_string_to_metric_families(generate_latest(registry).decode()) for s in f.samples
    }
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
