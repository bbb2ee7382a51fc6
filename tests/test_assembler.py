"""TraceAssembler (DESIGN section 4): completion rules, bounds, duplicates, late spans; no sleeps."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streamproc.live.assembler import AssemblerLimits, Completion, TraceAssembler
from tests.builders import span, trace_id

S = 1_000_000_000


def assembler(**limits) -> TraceAssembler:
    return TraceAssembler(AssemblerLimits(**limits))


def spans_of(number: int, count: int, *, root: bool = True):
    """`count` spans of trace `number`: span 1 is the root (unless root=False), the rest its children."""
    tid = trace_id(number)
    return [span(i, 0 if (i == 1 and root) else 1, 0, 1, trace=tid) for i in range(1, count + 1)]


def test_idle_trace_completes_after_idle_timeout():
    """A trace without root completes once nothing arrived for idle_timeout."""
    a = assembler(idle_timeout_ns=5 * S)
    assert a.add(spans_of(1, 3, root=False), now_ns=0).completed == []
    assert a.expire(4 * S) == []
    a.add([span(9, 1, 0, 1, trace=trace_id(1))], now_ns=4 * S)
    assert a.expire(8 * S) == []
    (done,) = a.expire(9 * S)
    assert (done.reason, len(done.trace.spans), done.trace.partial, done.late) == (
        Completion.IDLE,
        4,
        False,
        False,
    )


def test_rooted_trace_completes_after_root_grace():
    """Once the root arrived, root_grace without a newer span completes the trace."""
    a = assembler(root_grace_ns=1 * S)
    a.add(spans_of(1, 2), now_ns=0)
    a.add([span(5, 1, 0, 1, trace=trace_id(1))], now_ns=S // 2)
    assert a.expire(S) == []
    assert [d.reason for d in a.expire(3 * S // 2)] == [Completion.ROOT_GRACE]


def test_next_due_is_the_earliest_deadline_and_expire_completes_exactly_then():
    """The ticker sleeps until next_due_ns: root grace, idle timeout or max age, whichever comes first."""
    a = assembler(root_grace_ns=1 * S, idle_timeout_ns=5 * S, max_trace_age_ns=7 * S)
    assert a.next_due_ns() is None
    a.add(spans_of(1, 2, root=False), now_ns=0)
    assert a.next_due_ns() == 5 * S  # idle timeout of the rootless trace
    a.add(spans_of(2, 2), now_ns=2 * S)
    assert a.next_due_ns() == 3 * S  # root grace of trace 2
    assert a.expire(3 * S - 1) == []
    assert [d.reason for d in a.expire(3 * S)] == [Completion.ROOT_GRACE]
    for second in (3, 4, 5, 6):  # trace 1 keeps receiving spans: max age comes before its idle timeout
        a.add([span(10 + second, 1, 0, 1, trace=trace_id(1))], now_ns=second * S)
    assert a.next_due_ns() == 7 * S
    assert [d.reason for d in a.expire(7 * S)] == [Completion.MAX_AGE]
    assert a.next_due_ns() is None


def test_max_age_completes_a_busy_trace():
    """A trace that keeps receiving spans still completes at max_trace_age since its first span."""
    a = assembler(max_trace_age_ns=10 * S, idle_timeout_ns=5 * S, root_grace_ns=5 * S)
    for second in range(10):
        a.add([span(second + 2, 1, 0, 1, trace=trace_id(1))], now_ns=second * S)
        assert a.expire(second * S) == []
    assert [d.reason for d in a.expire(10 * S)] == [Completion.MAX_AGE]


def test_max_traces_completes_the_oldest_as_partial():
    """A new trace at the bound completes the oldest, marked partial."""
    a = assembler(max_traces=2)
    a.add(spans_of(1, 1), 0)
    a.add(spans_of(2, 1), 1)
    (done,) = a.add(spans_of(3, 1), 2).completed
    assert (done.trace.trace_id, done.reason, done.trace.partial) == (
        trace_id(1),
        Completion.MAX_TRACES,
        True,
    )
    assert a.buffered_traces == 2


def test_max_buffered_spans_bounds_the_buffer():
    """More spans than the bound completes the oldest traces until within it."""
    a = assembler(max_buffered_spans=5)
    a.add(spans_of(1, 3), 0)
    done = a.add(spans_of(2, 3), 1).completed
    assert [(d.trace.trace_id, d.reason) for d in done] == [(trace_id(1), Completion.MAX_BUFFERED_SPANS)]
    assert a.buffered_spans == 3


def test_max_spans_per_trace_completes_and_the_rest_is_a_late_fragment():
    """A trace reaching max_spans_per_trace completes; its later spans form a late fragment."""
    a = assembler(max_spans_per_trace=3, idle_timeout_ns=S)
    (done,) = a.add(spans_of(1, 3), 0).completed
    assert (done.reason, done.trace.partial) == (Completion.MAX_SPANS_PER_TRACE, True)
    a.add([span(7, 1, 0, 1, trace=trace_id(1))], 0)
    (fragment,) = a.expire(S)
    assert (fragment.late, len(fragment.trace.spans)) == (True, 1)
    assert a.late_spans == 1


def test_duplicate_span_ids_are_dropped_and_counted():
    """A span id already buffered in its trace is dropped."""
    a = assembler()
    result = a.add(spans_of(1, 2) + spans_of(1, 2), 0)
    assert (a.buffered_spans, result.duplicates, a.duplicate_spans) == (2, 2, 2)


def test_late_spans_are_not_a_new_trace():
    """Spans of a completed trace are recognised as late and completed as a late fragment."""
    a = assembler(root_grace_ns=S)
    a.add(spans_of(1, 2), 0)
    assert not a.expire(S)[0].late
    a.add([span(8, 1, 0, 1, trace=trace_id(1))], 2 * S)
    (late,) = a.expire(10 * S)
    assert late.late and late.trace.partial
    assert a.late_spans == 1


def test_drain_completes_everything():
    """Shutdown completes every buffered trace."""
    a = assembler()
    a.add(spans_of(1, 2) + spans_of(2, 1), 0)
    assert sorted(d.trace.trace_id for d in a.drain()) == [trace_id(1), trace_id(2)]
    assert (a.buffered_traces, a.buffered_spans) == (0, 0)


# --- properties -----------------------------------------------------------------------------------------

arrival = st.tuples(st.integers(1, 8), st.integers(1, 6), st.integers(0, 3 * S))  # trace, span, delay


@settings(max_examples=200, deadline=None)
@given(
    arrivals=st.lists(arrival, max_size=120),
    max_traces=st.integers(1, 6),
    max_buffered=st.integers(1, 20),
    max_per_trace=st.integers(1, 8),
)
def test_every_span_is_analyzed_once_or_dropped_and_the_buffer_stays_bounded(
    arrivals, max_traces, max_buffered, max_per_trace
):
    """Whatever the order and timing: accepted = completed + duplicates + buffered, within the bounds."""
    a = assembler(
        max_traces=max_traces,
        max_buffered_spans=max_buffered,
        max_spans_per_trace=max_per_trace,
        idle_timeout_ns=2 * S,
        root_grace_ns=S,
        max_trace_age_ns=5 * S,
    )
    now, completed = 0, []
    seen = set()
    for trace_number, span_number, delay in arrivals:
        now += delay
        completed += a.expire(now)
        completed += a.add(
            [span(span_number, 0 if span_number == 1 else 1, 0, 1, trace=trace_id(trace_number))], now
        ).completed
        seen.add((trace_number, span_number))
        assert a.buffered_spans <= max_buffered
        assert a.buffered_traces <= max_traces
    in_completed = sum(len(c.trace.spans) for c in completed)
    assert a.spans_accepted == len(arrivals)
    assert a.spans_accepted == in_completed + a.duplicate_spans + a.buffered_spans
    completed += a.drain()
    assert a.spans_accepted == sum(len(c.trace.spans) for c in completed) + a.duplicate_spans
    assert sum(a.completed.values()) == len(completed)
    # No span id appears twice among the non-late completions of one trace.
    for c in completed:
        ids = [s.span_id for s in c.trace.spans]
        assert len(ids) == len(set(ids))


@settings(max_examples=100, deadline=None)
@given(order=st.permutations(list(range(12))))
def test_arrival_order_does_not_change_the_assembled_trace(order):
    """Spans of one trace arriving in any order assemble into the same set of spans."""
    spans = spans_of(1, 12)
    a = assembler()
    a.add([spans[i] for i in order], 0)
    (done,) = a.drain()
    assert set(done.trace.spans) == set(spans)
