"""The diagnosis on hand-built traces: each reason (self time grown, wire time grown, a leaf database,
new originating errors, calls that vanished, work that ends early), its edge cases (a slow caller whose
callee is fast, traces without status or kinds, partial traces, background errors), determinism, the CLI
and the generated evaluation's cases."""

from __future__ import annotations

import random

import msgspec
import pytest

from streamproc.analyze import AnalysisSuite
from streamproc.analyze.diagnosis import diagnose
from streamproc.decode import Format
from streamproc.model import SpanKind, Trace
from streamproc.tools.encode import encode
from streamproc.tools.faults import FaultKind, make_case, strip
from tests.builders import span, trace, trace_id
from tests.cli import run

CLIENT, SERVER = SpanKind.CLIENT, SpanKind.SERVER
N = 200


def checkout(
    number: int,
    *,
    gateway_ms: float = 5,
    wire_ms: float = 1,
    payment_ms: float = 20,
    db_ms: float = 4,
    error: str | None = None,
    calls_db: bool = True,
) -> Trace:
    """gateway POST /checkout -> CLIENT call payment -> payment SERVER /charge -> CLIENT to orders-db.
    Times jitter by a few percent, seeded by the trace's number."""
    rng = random.Random(number)

    def jitter(ms: float) -> float:
        return ms * rng.uniform(0.95, 1.05)

    tid = trace_id(number)
    own, wire, pay, db = jitter(gateway_ms), jitter(wire_ms), jitter(payment_ms), jitter(db_ms)
    server_end = wire + pay + (db if calls_db else 0)
    spans = [
        span(
            1,
            0,
            0,
            own + server_end + wire,
            service="gateway",
            name="POST /checkout",
            kind=SERVER,
            trace=tid,
            error="HTTP 502" if error else None,
        ),
        span(
            2,
            1,
            own,
            own + server_end + wire,
            service="gateway",
            name="call payment",
            kind=CLIENT,
            trace=tid,
            peer_service="payment",
            error="HTTP 502" if error else None,
        ),
        span(
            3,
            2,
            own + wire,
            own + server_end,
            service="payment",
            name="/charge",
            kind=SERVER,
            trace=tid,
            error=error,
        ),
    ]
    if calls_db:
        start = own + wire + pay / 2
        spans.append(
            span(
                4,
                3,
                start,
                start + db,
                service="payment",
                name="SELECT orders",
                kind=CLIENT,
                trace=tid,
                db_system="postgresql",
                db_name="orders-db",
            )
        )
    return trace(*spans)


def diagnosis_of(before: list[Trace], after: list[Trace], **kw):
    suites = []
    for sample in (before, after):
        suite = AnalysisSuite()
        for t in sample:
            suite.observe(t)
        suites.append(suite.diagnosis)
    return diagnose(*suites, **kw)


def baseline() -> list[Trace]:
    return [checkout(n) for n in range(1, N + 1)]


def first(diagnosis) -> tuple[str, str]:
    top = diagnosis["suspects"][0]
    return top["service"], top["operation"]


def test_a_slow_callee_is_the_origin_and_explains_its_caller():
    found = diagnosis_of(baseline(), [checkout(n, payment_ms=200) for n in range(N + 1, 2 * N + 1)])
    assert first(found) == ("payment", "/charge")
    reasons = found["suspects"][0]["reasons"]
    assert any("self time per trace" in r and "→" in r for r in reasons)
    assert any("its callers' is explained by it" in r for r in reasons)
    assert all(s["service"] != "gateway" for s in found["suspects"])  # its own time did not grow


def test_a_slow_caller_whose_callee_is_fast():
    found = diagnosis_of(baseline(), [checkout(n, gateway_ms=150) for n in range(N + 1, 2 * N + 1)])
    assert first(found) == ("gateway", "POST /checkout")
    assert all(s["service"] != "payment" for s in found["suspects"])


def test_a_fault_in_a_leaf_database_names_the_database():
    found = diagnosis_of(baseline(), [checkout(n, db_ms=120) for n in range(N + 1, 2 * N + 1)])
    assert first(found) == ("orders-db", "SELECT orders")


def test_time_lost_on_the_wire_is_the_callees():
    """The caller's span grew, the callee's own spans did not: network or queueing before the callee."""
    found = diagnosis_of(baseline(), [checkout(n, wire_ms=60) for n in range(N + 1, 2 * N + 1)])
    top = found["suspects"][0]
    assert top["service"] == "payment"
    assert any("time on the wire to payment" in r for r in top["reasons"])


def test_new_originating_errors_are_the_origins_not_the_callers_that_propagate_them():
    after = [checkout(n, error="card declined" if n % 10 == 0 else None) for n in range(N + 1, 2 * N + 1)]
    found = diagnosis_of(baseline(), after)
    assert first(found) == ("payment", "/charge")
    assert any("new originating error 'card declined'" in r for r in found["suspects"][0]["reasons"])
    assert all(s["service"] != "gateway" for s in found["suspects"])


def test_background_errors_are_not_a_change():
    """One error in 200 traces, where the baseline had none: within what chance gives."""
    after = [checkout(n, error="boom" if n == N + 8 else None) for n in range(N + 1, 2 * N + 1)]
    assert diagnosis_of(baseline(), after)["suspects"] == []


def test_calls_that_vanished_point_at_the_operation_that_stopped_making_them():
    after = [checkout(n, calls_db=n % 2 == 0) for n in range(N + 1, 2 * N + 1)]
    top = diagnosis_of(baseline(), after)["suspects"][0]
    assert (top["service"], top["operation"]) == ("payment", "/charge")
    assert any("calls to payment SELECT orders per call 1.00 → 0.50" in r for r in top["reasons"])


def test_without_status_and_kinds_time_still_points_at_the_origin():
    before = [strip(t) for t in baseline()]
    after = [strip(checkout(n, payment_ms=200)) for n in range(N + 1, 2 * N + 1)]
    assert first(diagnosis_of(before, after)) == ("payment", "/charge")


def test_partial_traces_are_diagnosed_too():
    """Traces missing their root (a partial export): the rest still shows the slow callee."""

    def partial(t: Trace) -> Trace:
        return Trace(t.trace_id, t.spans[2:], partial=True)

    before = [partial(t) for t in baseline()]
    after = [partial(checkout(n, payment_ms=200)) for n in range(N + 1, 2 * N + 1)]
    assert first(diagnosis_of(before, after)) == ("payment", "/charge")


def test_deterministic_whatever_the_order():
    after = [checkout(n, payment_ms=90, error="x" if n % 7 == 0 else None) for n in range(N + 1, 2 * N + 1)]
    one = diagnosis_of(baseline(), after)
    shuffled = after[:]
    random.Random(3).shuffle(shuffled)
    assert diagnosis_of(list(reversed(baseline())), shuffled) == one


def test_starting_from_a_service_ranks_only_it_and_what_it_calls():
    after = [checkout(n, gateway_ms=150, payment_ms=200) for n in range(N + 1, 2 * N + 1)]
    assert {s["service"] for s in diagnosis_of(baseline(), after)["suspects"]} >= {"gateway", "payment"}
    assert [s["service"] for s in diagnosis_of(baseline(), after, service="payment")["suspects"]] == [
        "payment"
    ]


def test_cli_diagnose_text_and_json(capsys, tmp_path):
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_bytes(encode(baseline(), Format.JAEGER))
    after.write_bytes(encode([checkout(n, payment_ms=200) for n in range(N + 1, 2 * N + 1)], Format.JAEGER))
    code, out, err = run(capsys, after, "--baseline", before, "--diagnose")
    assert code == 0, err
    assert "Most likely origin: payment /charge" in out
    code, out, err = run(capsys, after, "--baseline", before, "--diagnose", "--json")
    diagnosis = msgspec.json.decode(out)["diagnosis"]
    assert (diagnosis["baseline_traces"], diagnosis["current_traces"]) == (N, N)
    assert diagnosis["suspects"][0]["service"] == "payment" and 0 < diagnosis["suspects"][0]["score"] <= 1
    code, out, err = run(capsys, after, "--diagnose")
    assert code == 2 and "--diagnose compares with the traces before the change" in err


@pytest.mark.parametrize("kind", list(FaultKind))
def test_generated_faults_are_found(kind):
    """One generated case of each kind (dev seeds), with status and kinds: the truth comes first."""
    case = make_case(7 * len(FaultKind) + list(FaultKind).index(kind), kind, traces=500)
    found = diagnosis_of(case.baseline, case.current)
    assert first(found)[0] == case.fault.truth(case.topology), found["suspects"][:2]


def test_live_diagnosis_is_the_batch_diagnosis_of_the_same_traces():
    """Baseline traffic, ten minutes later the slow callee: /api/diagnose's computation over the last 5
    minutes against the hour before gives what --diagnose gives for the same two sets of traces."""
    from streamproc.decode.common import DecodeResult
    from streamproc.live.analysis import LiveAnalysis
    from streamproc.live.settings import Settings
    from tests.builders import FakeClock

    start = 1_767_225_600 * 10**9
    monotonic, wall = FakeClock(), FakeClock(start)
    live = LiveAnalysis.from_settings(Settings(), monotonic=monotonic, wall=wall)
    before = baseline()
    after = [checkout(n, payment_ms=200) for n in range(N + 1, 2 * N + 1)]
    for sample in (before, after):
        for t in sample:
            live.pipeline.ingest(DecodeResult(list(t.spans), []))
        monotonic.advance(120)
        live.pipeline.tick()
        monotonic.advance(480)
        wall.advance(600)
    wall.advance(-300)  # now: 5 minutes after the slow traffic completed
    answer = live.diagnose(window_ns=300 * 10**9, baseline_ns=3600 * 10**9)
    assert answer["diagnosis"] == diagnosis_of(before, after)
    assert answer["diagnosis"]["suspects"][0]["service"] == "payment"
    # window and baseline together are cut to report_retention (1 h by default)
    assert answer["window"]["seconds"] == 300 and answer["baseline_window"]["seconds"] == 3300


def test_api_diagnose_and_the_diagnose_rpc():
    import grpc

    from streamproc.v1 import analysis_pb2 as pb
    from streamproc.v1 import analysis_pb2_grpc
    from tests.live import http_get, start_service

    service = start_service()
    channel = grpc.insecure_channel(f"127.0.0.1:{service.receiver.port}")
    try:
        status, content_type, body = http_get(service, "/api/diagnose?window=5m&baseline=1h&service=payment")
        answer = msgspec.json.decode(body)
        assert (status, content_type) == (200, "application/json")
        assert answer["diagnosis"] == {"baseline_traces": 0, "current_traces": 0, "suspects": []}
        assert answer["window"]["seconds"] == 300 and answer["baseline_window"]["seconds"] == 3300
        for query in ("window=soon", "baseline=-1h", "color=red"):
            status, _, body = http_get(service, f"/api/diagnose?{query}")
            assert status == 400 and msgspec.json.decode(body)["error"]
        stub = analysis_pb2_grpc.AnalysisServiceStub(channel)
        reply = stub.Diagnose(pb.DiagnoseRequest(window_seconds=60), timeout=10)
        assert reply.window.seconds == 60 and list(reply.diagnosis.suspects) == []
        with pytest.raises(grpc.RpcError) as refused:
            stub.Diagnose(pb.DiagnoseRequest(baseline_seconds=-5), timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        channel.close()
        service.shutdown()


def test_generate_fault_writes_both_sides_and_names_the_truth(capsys, tmp_path):
    from streamproc.cli import main

    current, before = tmp_path / "current.json", tmp_path / "before.json"
    argv = ["generate", "--fault", "db", "--seed", "5", "--count", "300", "-o", current]
    assert main([*map(str, argv), "--baseline-output", str(before)]) == 0
    err = capsys.readouterr().err
    truth = err.rsplit("the origin to find: ", 1)[1].strip()
    assert truth.endswith("-db")
    code, out, err = run(capsys, current, "--baseline", before, "--diagnose", "--json")
    assert code == 0, err
    assert msgspec.json.decode(out)["diagnosis"]["suspects"][0]["service"] == truth
    with pytest.raises(SystemExit) as refused:
        main(["generate", "--fault", "db", "-o", str(current)])
    assert refused.value.code == 2 and "--baseline-output" in capsys.readouterr().err
