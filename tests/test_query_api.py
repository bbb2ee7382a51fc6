"""`streamproc.v1.AnalysisService` on the OTLP/gRPC port: a client built from the generated stubs, a client
that knows nothing but what server reflection tells it (as grpcurl works), bearer token, bad arguments,
and `make proto` reproducing the committed code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from streamproc.live.query_service import report_message
from streamproc.tools.encode import otlp_request
from streamproc.v1 import analysis_pb2 as pb
from streamproc.v1 import analysis_pb2_grpc
from tests.live import http_get, report, samples, start_service, value, wait_for
from tests.test_http_receiver import PROTOBUF, post, traces

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def served():
    service = start_service(retained_spans=1_000_000)
    sent = traces(40, seed=21)
    body = otlp_request([s for t in sent for s in t.spans]).SerializeToString()
    assert post(service, body, PROTOBUF)[0] == 200
    wait_for(
        lambda: value(samples(service), "trace_total", service="api-gateway", operation="GET /api/home") == 40
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{service.receiver.port}")
    yield service, sent, channel
    channel.close()
    service.shutdown()


def without_window(message: pb.Report) -> pb.Report:
    copy = pb.Report()
    copy.CopyFrom(message)
    copy.ClearField("window")
    return copy


def test_get_report_is_the_http_report(served):
    """GetReport over the generated stub equals /api/report with the same window, sections and filters
    (the window's clock times aside), and carries every section's content."""
    service, _sent, channel = served
    stub = analysis_pb2_grpc.AnalysisServiceStub(channel)
    answer = stub.GetReport(pb.GetReportRequest(window_seconds=3600, top=5), timeout=10)
    expected = report(service, "window=1h&top=5")
    assert answer.summary.trace_count == expected["summary"]["trace_count"] == 40
    assert len(answer.critical_paths) == len(expected["critical_paths"]) > 0
    assert (
        answer.critical_paths[0].spans[0].sections[0].end_ms
        == expected["critical_paths"][0]["spans"][0]["sections"][0][1]
    )
    parent, children = next(iter(expected["dependencies"]["dependencies"].items()))
    assert dict(answer.dependencies.dependencies[parent].calls) == children
    assert without_window(answer) == without_window(report_message(expected))
    stub.GetReport(pb.GetReportRequest(window_seconds=3600, top=5), timeout=10)  # leaves the state as it was
    again = report(service, "window=1h&top=5")
    assert {k: v for k, v in again.items() if k != "window"} == {
        k: v for k, v in expected.items() if k != "window"
    }
    assert answer.window.seconds == 3600 and answer.window.complete

    filtered = stub.GetReport(
        pb.GetReportRequest(
            window_seconds=3600, sections=[pb.SECTION_ERRORS], service="user-service", errors_only=True
        ),
        timeout=10,
    )
    expected = report(service, "window=1h&errors&service=user-service&errors_only")
    assert without_window(filtered) == without_window(report_message(expected))
    assert not filtered.bottlenecks and filtered.HasField("errors") and not filtered.HasField("dependencies")
    assert filtered.filters.service == "user-service" and filtered.filters.errors_only


def test_find_traces_and_get_trace(served):
    _service, sent, channel = served
    stub = analysis_pb2_grpc.AnalysisServiceStub(channel)
    slow = {
        t.trace_id
        for t in sent
        if any(s.service == "user-service" and s.duration_ns >= 200e6 for s in t.spans)
    }
    found = stub.FindTraces(
        pb.FindTracesRequest(service="user-service", min_duration_nanos=200_000_000, limit=1000), timeout=10
    )
    assert {t.trace_id for t in found.traces} == slow
    starts = [t.start_time_unix_nano for t in found.traces]
    assert starts == sorted(starts, reverse=True)

    wanted = sent[3]
    got = stub.GetTrace(pb.GetTraceRequest(trace_id=wanted.trace_id), timeout=10)
    assert got.trace.span_count == len(wanted.spans) == len(got.spans)
    assert {s.span_id for s in got.spans} == {s.span_id for s in wanted.spans}
    by_id = {s.span_id: s for s in wanted.spans}
    for span in got.spans:
        original = by_id[span.span_id]
        assert (span.start_time_unix_nano, span.end_time_unix_nano) == (original.start_ns, original.end_ns)
        assert (span.service, span.name, span.kind, span.status_code) == (
            original.service,
            original.name,
            original.kind,
            original.status,
        )

    with pytest.raises(grpc.RpcError) as missing:
        stub.GetTrace(pb.GetTraceRequest(trace_id=b"\xab" * 16), timeout=10)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("method", "request_message", "problem"),
    [
        ("GetReport", pb.GetReportRequest(window_seconds=-1), "window_seconds"),
        ("GetReport", pb.GetReportRequest(window_seconds=float("nan")), "window_seconds"),
        ("GetReport", pb.GetReportRequest(sections=[99]), "sections"),
        ("GetReport", pb.GetReportRequest(latency_threshold_ms=-5), "latency"),
        ("FindTraces", pb.FindTracesRequest(), "service is required"),
        (
            "FindTraces",
            pb.FindTracesRequest(service="x", min_duration_nanos=5, max_duration_nanos=1),
            "greater",
        ),
        ("GetTrace", pb.GetTraceRequest(trace_id=b"\x01" * 8), "16"),
    ],
)
def test_bad_arguments_are_invalid_argument(served, method, request_message, problem):
    _service, _sent, channel = served
    stub = analysis_pb2_grpc.AnalysisServiceStub(channel)
    with pytest.raises(grpc.RpcError) as refused:
        getattr(stub, method)(request_message, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert problem in refused.value.details()


def test_a_client_with_only_reflection(served):
    """No generated code: the service list, the method and its message types come from server reflection
    into an empty descriptor pool, as grpcurl does it."""
    service, _sent, channel = served
    database = ProtoReflectionDescriptorDatabase(channel)
    assert {
        "streamproc.v1.AnalysisService",
        "opentelemetry.proto.collector.trace.v1.TraceService",
        "grpc.health.v1.Health",
    } <= set(database.get_services())
    pool = descriptor_pool.DescriptorPool(database)
    method = pool.FindServiceByName("streamproc.v1.AnalysisService").FindMethodByName("GetReport")
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    assert request_class is not pb.GetReportRequest  # built from reflection, not the generated module
    call = channel.unary_unary(
        "/streamproc.v1.AnalysisService/GetReport",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_class.FromString,
    )
    answer = call(request_class(window_seconds=3600), timeout=10)
    assert answer.summary.trace_count == 40
    assert [b.operation for b in answer.bottlenecks] == [
        b["operation"] for b in report(service, "window=1h")["bottlenecks"]
    ]


def test_the_query_api_takes_the_http_api_token():
    service = start_service(http_bearer_token="s3cret-reader", bearer_token="ingest-only")
    channel = grpc.insecure_channel(f"127.0.0.1:{service.receiver.port}")
    try:
        stub = analysis_pb2_grpc.AnalysisServiceStub(channel)
        for metadata in ((), (("authorization", "Bearer ingest-only"),)):
            with pytest.raises(grpc.RpcError) as refused:
                stub.GetReport(pb.GetReportRequest(), metadata=metadata, timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        answer = stub.GetReport(
            pb.GetReportRequest(), metadata=(("authorization", "Bearer s3cret-reader"),), timeout=10
        )
        assert answer.summary.trace_count == 0
        status, _, _ = http_get(service, "/metrics")  # the HTTP token guards /metrics too
        assert status == 401
    finally:
        channel.close()
        service.shutdown()
    counted = service.pipeline.stats().auth_failures
    assert counted.get("grpc") == 2


def test_make_proto_regenerates_the_committed_code(tmp_path):
    """The generated package is what grpcio-tools makes of the .proto now: nothing stale is committed."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{ROOT / 'proto'}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            str(ROOT / "proto/streamproc/v1/analysis.proto"),
        ],
        check=True,
    )
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.py*"))
    assert [str(p) for p in made] == [
        "streamproc/v1/analysis_pb2.py",
        "streamproc/v1/analysis_pb2.pyi",
        "streamproc/v1/analysis_pb2_grpc.py",
    ]
    for path in made:
        assert (ROOT / path).read_bytes() == (tmp_path / path).read_bytes(), path
