"""The before/after comparison (DESIGN sections 5 and 6): per-trace figures, new/gone/grew/shrank/same."""

from __future__ import annotations

from streamproc.batch.compare import compare, status
from tests.builders import span, suite_of, trace, trace_id


def side(count: int, bottlenecked: int, *, operation: str = "X", error: str | None = None, start: int = 0):
    """`count` traces of 20 ms; in the first `bottlenecked`, `operation` takes 10 ms of self time (50 %)."""
    traces = []
    for number in range(start, start + count):
        tid = trace_id(number + 1)
        spans = [span(1, 0, 0, 20, trace=tid, service="web", name="root")]
        if number - start < bottlenecked:
            spans.append(span(2, 1, 0, 10, trace=tid, service="db", name=operation, error=error))
        traces.append(trace(*spans))
    return suite_of(*traces)


def comparison(before, after):
    return compare(before.report(), after.report(), before, after)


def test_an_operation_that_stopped_being_a_bottleneck_shrank_by_its_self_time_per_trace():
    """35 of 100 traces before, 1 of 100 after, 10 ms each: the rate 35 -> 1 per 100 traces, self time per
    trace 3.5 ms -> 0.1 ms (-3.4 ms), status shrank. Mean self time alone (10 ms both sides) says nothing."""
    changes = comparison(side(100, 35), side(100, 1, start=1000))["changes"]
    (x,) = [b for b in changes["bottlenecks"] if b["operation"] == "X"]
    assert x == {
        "service": "db",
        "operation": "X",
        "status": "shrank",
        "baseline": {
            "occurrences": 35,
            "occurrence_rate": 35.0,
            "mean_self_time_ms": 10.0,
            "mean_share_pct": 50.0,
        },
        "current": {
            "occurrences": 1,
            "occurrence_rate": 1.0,
            "mean_self_time_ms": 10.0,
            "mean_share_pct": 50.0,
        },
        "self_time_per_trace_change_ms": -3.4,
    }


def test_a_bottleneck_in_more_traces_grew_even_when_its_mean_fell():
    """147 of 1,000 traces at 10 ms before; 999 of 1,000 at 10 ms after: grew by 8.52 ms per trace."""
    changes = comparison(side(1000, 147), side(1000, 999, start=5000))["changes"]
    (x,) = [b for b in changes["bottlenecks"] if b["operation"] == "X"]
    assert (x["status"], x["self_time_per_trace_change_ms"]) == ("grew", 8.52)
    assert changes["bottlenecks"][0]["operation"] == "X"  # ranked by the size of the change


def test_new_gone_and_same():
    """An operation on one side only is new or gone; within 10 % per trace it is the same."""
    before = side(10, 5, operation="old")
    after = side(10, 5, operation="fresh", start=100)
    rows = {b["operation"]: b for b in comparison(before, after)["changes"]["bottlenecks"]}
    assert (rows["old"]["status"], rows["fresh"]["status"], rows["root"]["status"]) == ("gone", "new", "same")
    assert rows["fresh"]["baseline"] == {
        "occurrences": 0,
        "occurrence_rate": 0.0,
        "mean_self_time_ms": 0.0,
        "mean_share_pct": 0.0,
    }
    assert [status(1.0, 1.09), status(1.0, 1.11), status(1.0, 0.89), status(0, 0)] == [
        "same",
        "grew",
        "shrank",
        "same",
    ]


def test_error_patterns_new_and_gone_with_their_counts():
    before = side(10, 2, error="connection refused")
    after = side(10, 3, error="HTTP 503 from db", start=100)
    patterns = comparison(before, after)["changes"]["error_patterns"]
    assert [(p["message"], p["status"], p["baseline_count"], p["current_count"]) for p in patterns] == [
        ("HTTP 503 from db", "new", 0, 3),
        ("connection refused", "gone", 2, 0),
    ]


def test_summary_changes_include_p50():
    changes = comparison(side(10, 0), side(10, 10, start=100))["changes"]
    assert changes["p50_ms"] == {"baseline": 20.0, "current": 20.0, "change_pct": 0.0}
    assert set(changes) == {
        "trace_count",
        "error_rate",
        "mean_ms",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "bottlenecks",
        "error_patterns",
    }
