"""Critical path: the Jaeger algorithm with its bugs fixed (DESIGN section 5), on hand-computed traces."""

from __future__ import annotations

import itertools
import random

from hypothesis import given
from hypothesis import strategies as st

from streamproc.analyze.critical_path import _sort_few, critical_path
from streamproc.model import SpanKind
from tests.builders import MS, span, suite_of, trace, tree


def path(*spans):  # (span number, start ms, end ms) per section
    t = tree(*spans)
    return [
        (int.from_bytes(t.spans[s.span].span_id, "big"), s.start_ns / MS, s.end_ns / MS)
        for s in critical_path(t)
    ]


def test_single_span_is_its_own_path():
    """A lone span is entirely on the critical path."""
    assert path(span(1, 0, 0, 10)) == [(1, 0, 10)]


def test_sequential_children_and_parent_gaps():
    """Gaps between children belong to the parent; each child owns its own interval."""
    assert path(span(1, 0, 0, 100), span(2, 1, 10, 40), span(3, 1, 50, 90)) == [
        (1, 0, 10),
        (2, 10, 40),
        (1, 40, 50),
        (3, 50, 90),
        (1, 90, 100),
    ]


def test_overlapping_children_take_the_last_finishing():
    """Of overlapping children only the part before the later one starts counts for the earlier one."""
    # 2: 10-60, 3: 30-90. Walk from 100: 3 ends last (90); back at 30, 2 ended at 60 > 30: not eligible.
    assert path(span(1, 0, 0, 100), span(2, 1, 10, 60), span(3, 1, 30, 90)) == [
        (1, 0, 30),
        (3, 30, 90),
        (1, 90, 100),
    ]


def test_back_to_back_children_are_both_on_the_path():
    """A child ending exactly when the next starts is on the path (Jaeger's strict < dropped it)."""
    assert path(span(1, 0, 0, 100), span(2, 1, 0, 50), span(3, 1, 50, 100)) == [(2, 0, 50), (3, 50, 100)]


def test_child_overflowing_parent_end_is_clamped():
    """A child that ends after its parent counts only up to the parent's end."""
    assert path(span(1, 0, 0, 100), span(2, 1, 60, 130)) == [(1, 0, 60), (2, 60, 100)]


def test_child_starting_before_parent_is_clamped():
    """A child that starts before its parent counts only from the parent's start."""
    assert path(span(1, 0, 10, 100), span(2, 1, 0, 40)) == [(2, 10, 40), (1, 40, 100)]


def test_children_entirely_outside_parent_are_dropped_with_their_subtree():
    """Children before or after their parent, and their descendants, are not on the path."""
    result = path(span(1, 0, 10, 50), span(2, 1, 60, 80), span(3, 2, 65, 70), span(4, 1, 0, 5))
    assert result == [(1, 10, 50)]


def test_clamping_is_applied_parents_first():
    """A grandchild is clamped to its parent's clamped interval, not the parent's raw one."""
    # 2 is clamped to 0-100; its child 3 (90-150) is clamped to 90-100.
    assert path(span(1, 0, 0, 100), span(2, 1, 50, 150), span(3, 2, 90, 150)) == [
        (1, 0, 50),
        (2, 50, 90),
        (3, 90, 100),
    ]


def test_zero_duration_spans_at_timestamp_zero():
    """A zero-length root at time 0 yields no sections and no failure."""
    assert path(span(1, 0, 0, 0), span(2, 1, 0, 0)) == []


def test_zero_length_child_at_the_return_point_does_not_loop():
    """A zero-length child exactly where the walk returns is visited once and the walk ends."""
    result = path(span(1, 0, 0, 100), span(2, 1, 50, 100), span(3, 1, 50, 50), span(4, 1, 10, 50))
    assert result == [(1, 0, 10), (4, 10, 50), (2, 50, 100)]
    assert sum(end - start for _, start, end in result) == 100


def test_producer_consumer_subtree_is_not_blocking():
    """A CONSUMER under a PRODUCER does not hold up the trace's critical path."""
    result = path(
        span(1, 0, 0, 100),
        span(2, 1, 10, 20, kind=SpanKind.PRODUCER),
        span(3, 2, 30, 95, kind=SpanKind.CONSUMER),
    )
    assert result == [(1, 0, 10), (2, 10, 20), (1, 20, 100)]


def test_orphans_get_their_own_path_after_the_root():
    """A span whose parent never arrived is a root of its own fragment; the trace concatenates both."""
    result = path(span(1, 0, 0, 100), span(2, 1, 10, 30), span(5, 99, 40, 60))
    assert result == [(1, 0, 10), (2, 10, 30), (1, 30, 100), (5, 40, 60)]


def test_several_roots_are_ordered_by_start():
    """Several parentless spans each contribute their own path, earliest root first."""
    assert path(span(2, 0, 50, 70), span(1, 0, 0, 20)) == [(1, 0, 20), (2, 50, 70)]


def test_ties_go_to_the_earlier_starting_child():
    """Children ending at the same time: the earlier-starting one is on the path."""
    assert path(span(1, 0, 0, 100), span(2, 1, 40, 80), span(3, 1, 20, 80)) == [
        (1, 0, 20),
        (3, 20, 80),
        (1, 80, 100),
    ]


def test_single_root_sections_sum_to_root_duration():
    """However children overlap, one root's sections add up to its duration."""
    t = tree(
        span(1, 0, 0, 1000),
        span(2, 1, 0, 300),
        span(3, 1, 100, 700),
        span(4, 3, 150, 690),
        span(5, 4, 600, 800),
        span(6, 1, 650, 1200),
        span(7, 1, 950, 950),
    )
    sections = critical_path(t)
    assert sum(s.end_ns - s.start_ns for s in sections) == 1000 * MS
    assert all(a.end_ns == b.start_ns for a, b in itertools.pairwise(sections))


def test_chain_of_100000_spans_has_no_depth_limit():
    """A 100,000-deep chain is walked without recursion errors and its path covers the root."""
    n = 100_000
    spans = [span(i, i - 1 if i > 1 else 0, i, 2 * n - i) for i in range(1, n + 1)]
    sections = critical_path(tree(*spans))
    assert sum(s.end_ns - s.start_ns for s in sections) == (2 * n - 2) * MS
    assert len(sections) == 2 * (n - 1)  # two per span; the innermost (n to n) has zero length


def test_report_aggregates_per_operation_and_lists_slowest_first():
    """critical_path_summary sums per (service, operation); critical_paths lists the slowest trace first."""
    from tests.builders import trace_id

    fast = trace(
        span(1, 0, 0, 10, trace=trace_id(1), name="root"), span(2, 1, 2, 8, trace=trace_id(1), name="db")
    )
    slow = trace(
        span(1, 0, 0, 40, trace=trace_id(2), name="root"), span(2, 1, 0, 30, trace=trace_id(2), name="db")
    )
    report = suite_of(fast, slow).report()
    assert [p["trace_id"] for p in report["critical_paths"]] == [trace_id(2).hex(), trace_id(1).hex()]
    slowest = report["critical_paths"][0]
    assert slowest["total_duration_ms"] == 40.0
    assert slowest["critical_path_duration_ms"] == 40.0
    assert [(s["operation"], s["critical_ms"]) for s in slowest["spans"]] == [("db", 30.0), ("root", 10.0)]
    summary = {r["operation"]: r for r in report["critical_path_summary"]}
    assert summary["db"]["total_ms"] == 36.0  # 6 + 30
    assert summary["root"]["total_ms"] == 14.0  # 4 + 10
    assert summary["db"]["share_pct"] == 72.0
    assert summary["db"]["trace_count"] == 2


def test_slowest_path_entry_carries_what_a_waterfall_draws():
    """Each span on a slowest trace's path: its start after the trace's start, its parent's position in
    the list, its stretches on the path, and how many spans below it are off the path (here span 3, which
    overlaps span 2 and ends first, with its child 5)."""
    t = trace(
        span(1, 0, 100, 200),
        span(2, 1, 110, 160),
        span(3, 1, 115, 130, error="boom"),
        span(5, 3, 116, 120),
        span(4, 1, 160, 195),
    )
    [entry] = suite_of(t).report()["critical_paths"]
    assert entry["span_count"] == 5
    rows = {s["span_id"][-1]: s for s in entry["spans"]}
    assert [s["span_id"][-1] for s in entry["spans"]] == ["1", "2", "4"]
    assert (rows["1"]["start_ms"], rows["1"]["parent"], rows["1"]["off_path_spans"]) == (0.0, None, 2)
    assert rows["1"]["sections"] == [[0.0, 10.0], [95.0, 100.0]]
    assert (rows["2"]["start_ms"], rows["2"]["parent"], rows["2"]["sections"]) == (10.0, 0, [[10.0, 60.0]])
    assert (rows["4"]["parent"], rows["4"]["sections"], rows["4"]["error"]) == (0, [[60.0, 95.0]], False)


@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=2, max_size=16),
    st.randoms(use_true_random=False),
)
def test_a_few_children_sort_in_walk_order_as_the_key_sort_does(bounds, rng: random.Random):
    """The insertion sort used for up to 16 children orders them as the key sort (used beyond) does:
    latest end first, then earliest start, then lowest span id; ties on the times are frequent here."""
    numbers = rng.sample(range(1, 1000), len(bounds))
    spans = tuple(span(number, 0, 0, 1) for number in numbers)
    low = [min(a, b) for a, b in bounds]
    high = [max(a, b) for a, b in bounds]
    children = list(range(len(bounds)))
    rng.shuffle(children)
    expected = sorted(children, key=lambda c: (-high[c], low[c], spans[c].span_id))
    _sort_few(children, low, high, spans)
    assert children == expected
