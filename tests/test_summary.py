"""Summary, percentiles, trace shape rules and merging (DESIGN section 5)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from streamproc.analyze import AnalysisSuite
from streamproc.analyze.stats import percentiles
from streamproc.tools.generate import Scenario, generate
from tests.builders import span, suite_of, trace, trace_id, tree


def test_percentiles_interpolate_linearly_between_closest_ranks():
    """p50/p95/p99 match numpy's default: for 1..10, p95 = 9.55 and p99 = 9.91."""
    assert percentiles(list(range(1, 11)), (50, 95, 99)) == [5.5, 9.55, 9.91]
    assert percentiles([7], (50, 95)) == [7.0, 7.0]
    assert percentiles([], (50,)) == [0.0]


def test_trace_duration_spans_all_spans_and_root_is_earliest_parentless():
    """Duration is max(end) - min(start); an orphan that starts earliest is the root."""
    t = tree(span(1, 0, 10, 50, name="root"), span(2, 1, 20, 80), span(3, 77, 5, 6, name="orphan"))
    assert t.duration_ns == 75_000_000
    assert t.root.name == "orphan"
    assert len(t.roots) == 2


def test_summary_counts():
    """Counts, error rate in percent of traces and duration statistics."""
    t1 = trace(span(1, 0, 0, 100, trace=trace_id(1)), span(2, 1, 0, 10, trace=trace_id(1), error="x"))
    t2 = trace(span(1, 0, 0, 300, trace=trace_id(2)))
    summary = suite_of(t1, t2).report(skipped_spans=4)["summary"]
    assert summary["trace_count"] == 2
    assert summary["span_count"] == 3
    assert (summary["error_count"], summary["error_span_count"], summary["error_rate"]) == (1, 1, 50.0)
    assert summary["skipped_spans"] == 4
    assert summary["duration_stats"] == {
        "min_ms": 100.0,
        "mean_ms": 200.0,
        "p50_ms": 200.0,
        "p95_ms": 290.0,
        "p99_ms": 298.0,
        "max_ms": 300.0,
    }
    assert summary["time_range"] == {
        "start": "1970-01-01T00:00:00.000000Z",
        "end": "1970-01-01T00:00:00.300000Z",
    }


TRACES = generate(Scenario.INCIDENT, count=200, seed=3, start_ns=1_767_225_600 * 10**9, window_ns=10**12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), parts=st.integers(1, 6))
def test_report_is_independent_of_order_and_partitioning(seed, parts):
    """Shuffled traces analyzed in several suites and merged give the same report as one suite in order."""
    whole = suite_of(*TRACES).report()
    shuffled = TRACES[:]
    random.Random(seed).shuffle(shuffled)
    merged = AnalysisSuite()
    for index in range(parts):
        piece = AnalysisSuite()
        for item in shuffled[index::parts]:
            piece.observe(item)
        merged.merge(piece)
    assert merged.report() == whole
