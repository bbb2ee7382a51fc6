"""Malformed structure (DESIGN section 5): parent loops are cut, the trace analyzed and counted; one bad
trace costs only itself, in the live pipeline and in batch."""

from __future__ import annotations

from streamproc.analyze.tree import build_tree
from streamproc.decode import Format
from streamproc.decode.common import DecodeResult
from streamproc.live.analysis import LiveAnalysis
from streamproc.live.settings import Settings
from streamproc.model import Trace
from streamproc.tools.encode import encode
from tests.builders import FakeClock, RecordingSink, span, trace, trace_id
from tests.cli import report_json

S = 1_000_000_000


def loop_of_two(number: int = 1) -> list:
    """Two spans that are each other's parent (the red team's trace)."""
    tid = trace_id(number)
    return [span(1, 2, 5, 20, trace=tid, service="a"), span(2, 1, 0, 30, trace=tid, service="b")]


def test_a_two_span_loop_is_cut_at_its_earliest_span():
    tree = build_tree(trace(*loop_of_two()))
    assert tree.malformed
    assert [tree.spans[i].span_id for i in tree.roots] == [(2).to_bytes(8, "big")]  # starts at 0 ms
    assert tree.children[1] == (0,)
    assert build_tree(trace(*reversed(loop_of_two()))).roots == (0,)  # the same span, whatever the order


def test_a_loop_beside_a_proper_root_and_a_self_parent():
    """A three-span loop hanging apart from the real root is cut; a span that is its own parent is a root."""
    t = trace(
        span(1, 0, 0, 100, service="web"),
        span(2, 1, 10, 20, service="web"),
        span(3, 5, 30, 40, service="x"),
        span(4, 3, 25, 50, service="x"),  # earliest of the loop 3 -> 5 -> 4 -> 3
        span(5, 4, 35, 45, service="x"),
        span(6, 6, 60, 70, service="y"),
    )
    tree = build_tree(t)
    assert tree.malformed
    assert sorted(tree.spans[i].span_id[-1] for i in tree.roots) == [1, 4, 6]
    assert not build_tree(trace(span(1, 0, 0, 10), span(2, 1, 1, 5))).malformed


def test_a_loop_costs_nothing_to_the_thousand_traces_completed_with_it():
    """Completed by one tick with 1,000 others, the loop is analyzed and counted and every trace reaches
    the metrics and the report: nothing is lost (on the first round's main, all 1,001 vanished)."""
    monotonic, wall = FakeClock(), FakeClock(1_767_225_600 * S)
    live = LiveAnalysis.from_settings(Settings(), monotonic=monotonic, wall=wall)
    spans = [s for n in range(2, 1002) for s in (span(1, 0, 0, 10, trace=trace_id(n), service="web"),)]
    live.pipeline.ingest(DecodeResult([*loop_of_two(1), *spans], []))
    monotonic.advance(6)  # past the idle timeout: one tick completes all of them
    assert live.pipeline.tick() == 1001
    stats = live.pipeline.stats()
    assert (stats.traces_analyzed, stats.malformed_traces, stats.dropped) == (1001, 1, {})
    assert live.report(window_ns=60 * S)["summary"]["trace_count"] == 1001
    assert live.report(window_ns=60 * S)["summary"]["malformed_traces"] == 1


def test_a_sink_that_raises_costs_only_its_trace():
    """A failing step after the analysis (a sink) is guarded per trace too: counted, the rest go on."""

    class Flaky(RecordingSink):
        def observe_trace(self, findings, now_ns):
            if findings.tree.trace_id == trace_id(2):
                raise RuntimeError("sink bug")
            super().observe_trace(findings, now_ns)

    monotonic, wall = FakeClock(), FakeClock(1_767_225_600 * S)
    from streamproc.analyze.suite import AnalysisOptions
    from streamproc.live.assembler import AssemblerLimits
    from streamproc.live.pipeline import LivePipeline

    sink = Flaky()
    pipeline = LivePipeline(
        limits=AssemblerLimits(), options=AnalysisOptions(), sinks=(sink,), monotonic=monotonic, wall=wall
    )
    for n in (1, 2, 3):
        pipeline.ingest(
            DecodeResult([span(1, 0, 0, 10, trace=trace_id(n)), span(2, 1, 1, 5, trace=trace_id(n))], [])
        )
    assert pipeline.drain() == 3
    assert [tid for tid, _ in sink.traces] == [trace_id(1), trace_id(3)]
    assert pipeline.stats().dropped == {"analysis_failed": 2}


def test_batch_analyzes_a_looping_trace_and_says_so(tmp_path, capsys):
    path = tmp_path / "loop.json"
    path.write_bytes(encode([Trace(trace_id(1), tuple(loop_of_two()))], Format.OTLP_JSON))
    summary = report_json(capsys, path)["summary"]
    assert (summary["trace_count"], summary["span_count"], summary["malformed_traces"]) == (1, 2, 1)
    assert summary["duration_stats"]["max_ms"] == 30.0


def test_huge_names_and_messages_are_cut_before_they_become_labels():
    """Ten spans with 10^6-character names, peers and messages: label values are cut to NAME_LIMIT, so
    /metrics stays small (the first round grew it from 5.7 kB to 390 MB), and the report keeps no more."""
    from prometheus_client import CollectorRegistry, generate_latest

    from streamproc.decode.otlp_proto import decode_export_request
    from streamproc.model import NAME_LIMIT, SpanKind
    from streamproc.tools.encode import otlp_request

    monotonic, wall = FakeClock(), FakeClock(1_767_225_600 * S)
    live = LiveAnalysis.from_settings(Settings(), monotonic=monotonic, wall=wall)
    registry = CollectorRegistry()
    registry.register(live.collector())
    spans = [
        span(
            1,
            0,
            0,
            10,
            trace=trace_id(n),
            service=f"{n}" + "s" * 10**6,
            name=f"{n}" + "n" * 10**6,
            kind=SpanKind.CLIENT,
            error=f"{n}" + "m" * 10**6,
            peer_service=f"{n}" + "p" * 10**6,
        )
        for n in range(1, 11)
    ]
    result = decode_export_request(otlp_request(spans))
    decoded = result.spans[0]
    assert len(decoded.service) == len(decoded.name) == len(decoded.attributes.peer_service) == NAME_LIMIT
    assert decoded.name.endswith("…") and len(decoded.status_message) == 2048
    live.pipeline.ingest(result)
    monotonic.advance(2)
    live.pipeline.tick()
    assert live.pipeline.stats().traces_analyzed == 10
    exposition = generate_latest(registry)
    longest = max(len(line) for line in exposition.splitlines())
    assert longest < 4 * NAME_LIMIT + 200  # at most four label values of a series, each cut
    assert len(exposition) < 1_000_000  # the first round's ten 10^6-character names made 390 MB
    errors = live.report(window_ns=60 * S)["errors"]["patterns"]
    assert max(len(p["message"]) for p in errors) <= 2048
