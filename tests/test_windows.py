"""The live report's windows on a fake wall clock: buckets merge into a window, retention drops old ones,
filters read the ring of recent traces and say whether it reached back far enough."""

from __future__ import annotations

from streamproc.analyze.filters import TraceFilter
from streamproc.analyze.suite import AnalysisOptions, find
from streamproc.live.windows import ReportWindows
from tests.builders import span, trace_id, tree

S = 1_000_000_000
T0 = 1_767_225_600 * S  # a bucket boundary (2026-01-01T00:00:00Z)


def findings(number: int, *, service: str = "web", error: str | None = None):
    t = tree(
        span(1, 0, 0, 40, trace=trace_id(number), service=service, name="GET /", error=error),
        span(2, 1, 5, 30, trace=trace_id(number), service=service, name="query"),
    )
    return find(t, AnalysisOptions())


def windows(
    *, recent_traces: int = 100, recent_spans: int = 100_000, cardinality_limit: int = 100
) -> ReportWindows:
    return ReportWindows(
        AnalysisOptions(),
        bucket_ns=60 * S,
        retention_ns=3600 * S,
        recent_traces=recent_traces,
        recent_spans=recent_spans,
        cardinality_limit=cardinality_limit,
    )


def test_a_window_merges_the_buckets_it_overlaps():
    """Traces a minute apart fall in separate buckets; a 90 s window at T0+150 s holds the last two."""
    state = windows()
    for minute in range(3):
        state.observe_trace(findings(minute + 1), T0 + minute * 60 * S)
    report = state.report(window_ns=90 * S, now_ns=T0 + 150 * S)
    assert report["summary"]["trace_count"] == 2
    assert report["window"] == {
        "seconds": 90.0,
        "start": "2026-01-01T00:01:00.000000Z",
        "end": "2026-01-01T00:02:30.000000Z",
        "complete": True,
        "overflow_traces": 0,
    }
    assert state.report(window_ns=3600 * S, now_ns=T0 + 150 * S)["summary"]["trace_count"] == 3


def test_buckets_older_than_the_retention_are_dropped():
    """A trace observed two hours ago is gone even from a window longer than the retention."""
    state = windows()
    state.observe_trace(findings(1), T0)
    state.observe_trace(findings(2), T0 + 2 * 3600 * S)
    report = state.report(window_ns=24 * 3600 * S, now_ns=T0 + 2 * 3600 * S)
    assert report["summary"]["trace_count"] == 1
    # Clamped to the retention, and says so.
    assert (report["window"]["seconds"], report["window"]["requested_seconds"]) == (3600.0, 24 * 3600.0)
    assert report["window"]["start"] == "2026-01-01T01:00:00.000000Z"


def test_skipped_spans_count_in_the_window_they_arrived_in():
    state = windows()
    state.observe_skipped(3, T0)
    state.observe_skipped(4, T0 + 600 * S)
    assert state.report(window_ns=300 * S, now_ns=T0 + 600 * S)["summary"]["skipped_spans"] == 4
    assert state.report(window_ns=3600 * S, now_ns=T0 + 600 * S)["summary"]["skipped_spans"] == 7


def test_late_fragments_are_not_traces_in_the_report():
    state = windows()
    state.observe_fragment(findings(1), T0)
    assert state.report(window_ns=60 * S, now_ns=T0)["summary"]["trace_count"] == 0


def test_filters_read_the_recent_traces_and_say_how_many():
    """With a filter the report analyzes the recent traces that pass it, and names how many it read."""
    state = windows()
    state.observe_trace(findings(1, service="web"), T0)
    state.observe_trace(findings(2, service="shop", error="boom"), T0 + S)
    report = state.report(window_ns=60 * S, now_ns=T0 + 2 * S, rules=TraceFilter(errors_only=True))
    assert report["summary"]["trace_count"] == 1
    assert report["errors"]["patterns"][0]["service"] == "shop"
    assert (report["window"]["filtered_from_recent_traces"], report["window"]["complete"]) == (2, True)


def test_a_filtered_report_is_incomplete_when_the_ring_did_not_reach_back():
    """A full ring whose oldest trace is newer than the window's start cannot answer for the whole window."""
    state = windows(recent_traces=2)
    for second in range(5):
        state.observe_trace(findings(second + 1), T0 + second * S)
    report = state.report(window_ns=60 * S, now_ns=T0 + 5 * S, rules=TraceFilter(service="web"))
    assert report["summary"]["trace_count"] == 2
    assert report["window"]["complete"] is False


def test_a_small_window_has_the_batch_reports_exact_percentiles():
    """Three traces of 10, 20 and 400 ms: p99 is the batch report's interpolated 392.4 ms, not a sketch's."""
    state = windows()
    for number, end in enumerate((10, 20, 400), start=1):
        t = tree(span(1, 0, 0, end, trace=trace_id(number), service="web", name="GET /"))
        state.observe_trace(find(t, AnalysisOptions()), T0 + number * S)
    stats = state.report(window_ns=60 * S, now_ns=T0 + 10 * S)["summary"]["duration_stats"]
    assert (stats["p50_ms"], stats["p95_ms"], stats["p99_ms"]) == (20.0, 362.0, 392.4)


def test_durations_beyond_the_exact_limit_are_answered_by_the_sketch():
    """Past EXACT_LIMIT a store keeps no list; its percentiles stay within the sketch's relative error,
    and merging two exact stores past the limit switches too."""
    from streamproc.analyze.sketch import EXACT_LIMIT, RELATIVE_ACCURACY, SketchDurations
    from streamproc.analyze.stats import percentiles

    values = [1_000_000 * (n + 1) for n in range(EXACT_LIMIT * 2)]
    store = SketchDurations()
    for value in values:
        store.add(value)
    assert store.exact is None
    for got, exact in zip(store.quantiles((50, 95, 99)), percentiles(values, (50, 95, 99)), strict=True):
        assert abs(got - exact) <= exact * RELATIVE_ACCURACY + 1_000_000  # one rank apart at most
    halves = [SketchDurations(), SketchDurations()]
    for index, value in enumerate(values[: EXACT_LIMIT + 2]):
        halves[index % 2].add(value)
    assert halves[0].exact is not None
    halves[0].merge(halves[1])
    assert halves[0].exact is None


def test_the_recent_ring_is_bounded_by_spans():
    """Ten 30-span traces with a 100-span bound: the ring keeps the newest three (90 spans), and a filtered
    report over a window that lost traces says it is incomplete."""
    from tests.builders import span as make_span

    state = windows(recent_traces=1000, recent_spans=100)
    for number in range(1, 11):
        spans = [make_span(1, 0, 0, 40, trace=trace_id(number), service="web", name="GET /")]
        spans += [make_span(n, 1, 1, 2, trace=trace_id(number), service="web") for n in range(2, 31)]
        state.observe_trace(find(tree(*spans), AnalysisOptions()), T0 + number * S)
    assert tuple(state.state()) == (3, 90, 100)
    report = state.report(window_ns=60 * S, now_ns=T0 + 11 * S, rules=TraceFilter(service="web"))
    assert report["summary"]["trace_count"] == 3
    assert report["window"]["complete"] is False
    recent = state.report(window_ns=3 * S, now_ns=T0 + 10 * S + S // 2, rules=TraceFilter(service="web"))
    assert (recent["summary"]["trace_count"], recent["window"]["complete"]) == (3, True)


def test_a_snapshot_is_apart_from_what_ingest_does_next():
    """A report is computed from a snapshot taken under the lock: traces observed after it (as ingest goes
    on while the report is computed) are not in it, and nothing it reads changes under it."""
    state = windows()
    state.observe_trace(findings(1), T0 + S)
    snapshot = state.snapshot(window_ns=60 * S, now_ns=T0 + 2 * S)
    for number in range(2, 50):
        state.observe_trace(findings(number), T0 + 2 * S)  # the same, current bucket
    assert snapshot.report()["summary"]["trace_count"] == 1
    assert state.report(window_ns=60 * S, now_ns=T0 + 2 * S)["summary"]["trace_count"] == 49


def test_reports_and_ingest_run_together():
    """Reports in one thread while another ingests into the same live analysis: no error, every trace
    counted (a report that read the current bucket outside the lock would fail with a changed dict)."""
    import threading

    from streamproc.decode.common import DecodeResult
    from streamproc.live.analysis import LiveAnalysis
    from streamproc.live.settings import Settings
    from tests.builders import FakeClock
    from tests.builders import span as make_span

    monotonic, wall = FakeClock(), FakeClock(T0)
    live = LiveAnalysis.from_settings(Settings(), monotonic=monotonic, wall=wall)
    failures: list[BaseException] = []
    done = threading.Event()

    def reports() -> None:
        try:
            while not done.is_set():
                live.report(window_ns=3600 * S)
        except BaseException as exc:  # the failure the test is about
            failures.append(exc)

    reader = threading.Thread(target=reports)
    reader.start()
    for number in range(1, 2001):
        live.pipeline.ingest(
            DecodeResult([make_span(1, 0, 0, 10, trace=trace_id(number), service=f"s{number % 50}")], [])
        )
        monotonic.advance(2)
        live.pipeline.tick()
    done.set()
    reader.join()
    assert failures == []
    assert live.report(window_ns=3600 * S)["summary"]["trace_count"] == 2000


def test_a_bucket_holds_at_most_cardinality_limit_operations():
    """100,000 distinct names grew the report windows by 2.7 kB each: past the limit a trace counts in the
    summary only, and the window says how many did."""
    state = windows(recent_traces=10, cardinality_limit=10)
    from tests.builders import span as make_span

    for number in range(1, 101):
        t = tree(make_span(1, 0, 0, 10, trace=trace_id(number), service="web", name=f"GET /item/{number}"))
        state.observe_trace(find(t, AnalysisOptions()), T0 + S)
    report = state.report(window_ns=60 * S, now_ns=T0 + 2 * S)
    assert report["summary"]["trace_count"] == 100
    assert len({(b["service"], b["operation"]) for b in report["bottlenecks"]}) <= 10
    assert len(report["dependencies"]["services"]) == 1
    assert report["window"]["overflow_traces"] == 90
