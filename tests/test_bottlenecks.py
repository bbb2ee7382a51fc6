"""Self time and bottlenecks (DESIGN section 5)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streamproc.analyze.tree import self_times
from tests.builders import MS, span, suite_of, trace, trace_id, tree


def test_self_time_subtracts_the_union_of_children():
    """Overlapping children are not subtracted twice; clipped to the parent; floor zero."""
    t = tree(span(1, 0, 0, 100), span(2, 1, 10, 50), span(3, 1, 30, 60), span(4, 1, 90, 120))
    assert self_times(t)[0] == (100 - 50 - 10) * MS  # union 10-60 and 90-100


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 12), st.integers(0, 6)),  # parent, start, length (ms)
        min_size=1,
        max_size=8,
    )
)
def test_self_time_is_the_time_no_child_covers(layout):
    """Against counting uncovered milliseconds one by one: any children, overlapping or not, any number."""
    spans = [span(1, 0, 0, 12)]
    for number, (parent, start, length) in enumerate(layout, start=2):
        spans.append(span(number, min(parent + 1, number - 1), start, start + length))
    t = tree(*spans)
    for index, own in enumerate(t.spans):
        begin, end = own.start_ns // MS, own.end_ns // MS
        covered = {
            ms
            for kid in t.children[index]
            for ms in range(t.spans[kid].start_ns // MS, t.spans[kid].end_ns // MS)
            if begin <= ms < end
        }
        assert self_times(t)[index] == (end - begin - len(covered)) * MS


def test_self_time_of_a_child_covering_its_parent_is_zero():
    """A child longer than its parent leaves the parent no self time (not negative)."""
    assert self_times(tree(span(1, 0, 10, 20), span(2, 1, 0, 30)))[0] == 0


def test_exactly_the_threshold_is_not_a_bottleneck():
    """20 % is not 'more than 20 %': the span at exactly 20 % is not reported."""
    t = trace(span(1, 0, 0, 100, name="root"), span(2, 1, 0, 80, name="child"))  # root self 20 %
    rows = suite_of(t).report()["bottlenecks"]
    assert [r["operation"] for r in rows] == ["child"]


def test_just_over_the_threshold_is_a_bottleneck():
    """20.001 % of the trace is a bottleneck."""
    t = trace(span(1, 0, 0, 100, name="root"), span(2, 1, 0, 79.999, name="child"))
    assert {r["operation"] for r in suite_of(t).report()["bottlenecks"]} == {"root", "child"}


def test_aggregation_per_operation_with_pattern_and_share():
    """Occurrences count traces; mean self time and share are over occurrences; pattern is normalised."""
    q1 = "SELECT * FROM users WHERE id = 42"
    q2 = "SELECT * FROM users WHERE id = 7"
    t1 = trace(
        span(1, 0, 0, 100, trace=trace_id(1), name="GET /"),
        span(2, 1, 0, 90, trace=trace_id(1), name="query", service="db", db_statement=q1),
    )
    t2 = trace(
        span(1, 0, 0, 200, trace=trace_id(2), name="GET /"),
        span(2, 1, 0, 100, trace=trace_id(2), name="query", service="db", db_statement=q2),
    )
    t3 = trace(
        span(1, 0, 0, 50, trace=trace_id(3), name="GET /"),
        span(2, 1, 0, 5, trace=trace_id(3), name="query", service="db", db_statement=q1),
    )
    rows = {r["operation"]: r for r in suite_of(t1, t2, t3).report()["bottlenecks"]}
    query = rows["query"]
    assert query["occurrences"] == 2
    assert query["trace_count"] == 3
    assert query["mean_self_time_ms"] == 95.0
    assert query["mean_share_pct"] == 70.0  # (90 % + 50 %) / 2
    assert query["pattern"] == "SELECT * FROM users WHERE id = ?"
    # root: t2 self 100/200 = 50 %, t3 self 45/50 = 90 %; t1 10 % is no bottleneck
    assert rows["GET /"]["occurrences"] == 2
    assert rows["GET /"]["mean_self_time_ms"] == 72.5


def test_bottlenecks_are_listed_by_total_self_time():
    """The operation with the most self time over its occurrences comes first."""
    t1 = trace(
        span(1, 0, 0, 100, trace=trace_id(1), name="a"), span(2, 1, 0, 60, trace=trace_id(1), name="b")
    )
    rows = suite_of(t1).report()["bottlenecks"]
    assert [r["operation"] for r in rows] == ["b", "a"]


def test_pattern_falls_back_to_status_message_then_route():
    """Without a statement the pattern is the normalised status message, else the route."""
    t1 = trace(span(1, 0, 0, 100, trace=trace_id(1), name="x", error="timeout after 300ms on 10.0.0.7"))
    t2 = trace(span(1, 0, 0, 100, trace=trace_id(2), name="y", http_route="/users/{id}"))
    rows = {r["operation"]: r["pattern"] for r in suite_of(t1, t2).report()["bottlenecks"]}
    assert rows == {"x": "timeout after ?ms on ?", "y": "/users/{id}"}


def test_threshold_is_configurable():
    """--bottleneck-threshold 50 keeps only spans over half of their trace."""
    t = trace(span(1, 0, 0, 100, name="root"), span(2, 1, 0, 60, name="child"))
    rows = suite_of(t, bottleneck_threshold_pct=50).report()["bottlenecks"]
    assert [r["operation"] for r in rows] == ["child"]
