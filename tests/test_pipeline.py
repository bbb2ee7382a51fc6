"""The live pipeline on fake clocks: completed traces reach every sink once, every span is accounted for."""

from __future__ import annotations

from streamproc.analyze.suite import AnalysisOptions, find
from streamproc.analyze.tree import build_tree
from streamproc.decode.common import DecodeResult
from streamproc.live.assembler import AssemblerLimits, Completion
from streamproc.live.pipeline import LivePipeline
from streamproc.model import SkippedSpan, SkipReason, Trace
from tests.builders import FakeClock, RecordingSink, span, trace_id

S = 1_000_000_000
WALL_START = 1_767_225_600 * S


def pipeline_with(sink: RecordingSink, monotonic: FakeClock, wall: FakeClock, **options) -> LivePipeline:
    limits = AssemblerLimits(idle_timeout_ns=5 * S, root_grace_ns=1 * S, max_trace_age_ns=60 * S)
    return LivePipeline(
        limits=limits, options=AnalysisOptions(), sinks=(sink,), monotonic=monotonic, wall=wall, **options
    )


def two_spans(number: int) -> list:
    return [
        span(1, 0, 0, 40, trace=trace_id(number), service="web", name="GET /"),
        span(2, 1, 5, 30, trace=trace_id(number), service="web", name="query"),
    ]


def test_a_rooted_trace_completes_after_its_root_grace_and_reaches_the_sink_once():
    """Nothing completes before root_grace on the monotonic clock; then the sink sees it at the wall time."""
    monotonic, wall, sink = FakeClock(), FakeClock(WALL_START), RecordingSink()
    pipeline = pipeline_with(sink, monotonic, wall)
    pipeline.ingest(DecodeResult(two_spans(1), []))
    monotonic.advance(0.9)
    assert pipeline.tick() == 0
    assert pipeline.seconds_until_due() == 0.1
    monotonic.advance(0.1)
    wall.advance(7)
    assert pipeline.tick() == 1
    assert sink.traces == [(trace_id(1), WALL_START + 7 * S)]
    stats = pipeline.stats()
    assert (stats.spans_received, stats.traces_analyzed, stats.assembler.buffered_spans) == (2, 1, 0)
    assert stats.assembler.completed == {Completion.ROOT_GRACE: 1}


def test_rejected_and_duplicate_spans_are_counted_and_told_to_the_sinks():
    """Spans decoding rejected and span ids seen twice are dropped with their reason, never silently."""
    monotonic, wall, sink = FakeClock(), FakeClock(WALL_START), RecordingSink()
    pipeline = pipeline_with(sink, monotonic, wall)
    bad = SkippedSpan(SkipReason.BAD_SPAN_ID, "span id '12' has 2 hex digits", "ab", "12")
    spans = two_spans(1)
    pipeline.ingest(DecodeResult([*spans, spans[1]], [bad]))
    stats = pipeline.stats()
    assert stats.spans_received == 4
    assert stats.dropped == {"bad_span_id": 1, "duplicate_span": 1}
    assert sink.skipped == [(1, WALL_START), (1, WALL_START)]


def test_a_trace_whose_analysis_raises_costs_only_itself():
    """Spans of a trace whose analysis raised are counted as analysis_failed; the other traces of the same
    batch still reach the sinks."""
    monotonic, wall, sink = FakeClock(), FakeClock(WALL_START), RecordingSink()

    def analyze(trace: Trace):
        if trace.trace_id == trace_id(2):
            raise RuntimeError("analyzer bug")
        return find(build_tree(trace), AnalysisOptions())

    pipeline = pipeline_with(sink, monotonic, wall, analyze=analyze)
    for number in (1, 2, 3):
        pipeline.ingest(DecodeResult(two_spans(number), []))
    assert pipeline.drain() == 3
    assert [trace for trace, _ in sink.traces] == [trace_id(1), trace_id(3)]
    stats = pipeline.stats()
    assert stats.dropped == {"analysis_failed": 2}
    assert stats.traces_analyzed == 2


def test_late_spans_reach_the_sinks_as_a_fragment_not_a_trace():
    """A span of a trace that already completed is analyzed as a late fragment."""
    monotonic, wall, sink = FakeClock(), FakeClock(WALL_START), RecordingSink()
    pipeline = pipeline_with(sink, monotonic, wall)
    pipeline.ingest(DecodeResult(two_spans(1), []))
    monotonic.advance(1)
    pipeline.tick()
    pipeline.ingest(DecodeResult([span(3, 1, 31, 35, trace=trace_id(1), service="web")], []))
    monotonic.advance(5)
    pipeline.tick()
    assert sink.traces == [(trace_id(1), WALL_START)]
    assert sink.fragments == [(trace_id(1), WALL_START)]
    stats = pipeline.stats()
    assert (stats.assembler.late_spans, stats.traces_analyzed) == (1, 1)


def test_refused_and_undecodable_requests_are_counted_apart_from_received_spans():
    """Spans of requests refused whole were never received; undecodable requests are counted as requests."""
    pipeline = pipeline_with(RecordingSink(), FakeClock(), FakeClock(WALL_START))
    pipeline.refuse(7, "over_capacity", "grpc")
    pipeline.refuse(2, "shutting_down", "http")
    pipeline.ingest_undecodable("http")
    stats = pipeline.stats()
    assert stats.refused == {("grpc", "over_capacity"): 7, ("http", "shutting_down"): 2}
    assert (stats.undecodable_requests, stats.spans_received, stats.received) == ({"http": 1}, 0, {})


def test_drain_completes_every_buffered_trace_for_shutdown():
    monotonic, wall, sink = FakeClock(), FakeClock(WALL_START), RecordingSink()
    pipeline = pipeline_with(sink, monotonic, wall)
    for number in (1, 2):
        pipeline.ingest(DecodeResult(two_spans(number), []))
    assert pipeline.stats().assembler.buffered_traces == 2
    assert pipeline.drain() == 2
    stats = pipeline.stats()
    assert (stats.assembler.buffered_traces, stats.assembler.completed) == (0, {Completion.SHUTDOWN: 2})


def test_read_sees_the_wall_clock():
    """Readers (scrapes, reports) run under the pipeline's lock with the wall-clock time."""
    wall = FakeClock(WALL_START)
    pipeline = pipeline_with(RecordingSink(), FakeClock(), wall)
    wall.advance(3)
    assert pipeline.read(lambda now_ns: now_ns) == WALL_START + 3 * S
