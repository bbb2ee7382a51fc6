"""The OTLP/gRPC receiver over a real gRPC channel: the ingest contract of DESIGN section 8."""

from __future__ import annotations

import contextlib
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest as PB2ExportTraceServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse as PB2ExportTraceServiceResponse,
)

from streamproc.tools.encode import otlp_request
from tests.builders import span, trace_id
from tests.live import samples, start_service, value, wait_for

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture
def service():
    running = start_service()
    yield running
    running.shutdown()


def export(service, payload: bytes, timeout: float = 30, **kwargs):
    with grpc.insecure_channel(f"127.0.0.1:{service.receiver.port}", **kwargs) as channel:
        call = channel.unary_unary(EXPORT, response_deserializer=PB2ExportTraceServiceResponse.FromString)
        return call(payload, timeout=timeout, **{k: v for k, v in kwargs.items() if k == "metadata"})


def good_request(number: int = 1, count: int = 3) -> bytes:
    tid = trace_id(number)
    spans = [span(i, 0 if i == 1 else 1, 0, 10, trace=tid, service="svc") for i in range(1, count + 1)]
    return otlp_request(spans).SerializeToString()


@contextlib.contextmanager
def one_export_in_flight(running):
    """A long read holds the pipeline, so one Export blocks in ingest, in flight; on leaving, the hold is
    released and that Export completes. Yields the Event that releases it early."""
    held, release = threading.Event(), threading.Event()
    holding = threading.Thread(
        target=running.pipeline.read, args=(lambda _now: (held.set(), release.wait()),)
    )
    holding.start()
    held.wait(timeout=10)
    first_done = threading.Event()
    first = threading.Thread(target=lambda: (export(running, good_request(1)), first_done.set()))
    first.start()
    wait_for(lambda: running.receiver.inflight == 1)
    try:
        yield release
    finally:
        release.set()
        first.join(timeout=10)
    assert first_done.is_set()


def test_garbage_bytes_get_invalid_argument_and_the_server_keeps_serving(service):
    """An undecodable message is INVALID_ARGUMENT; it is counted; the next valid request succeeds."""
    with pytest.raises(grpc.RpcError) as caught:
        export(service, b"\xff\xfe not a protobuf \x00\x01")
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert export(service, good_request()) == PB2ExportTraceServiceResponse()
    wait_for(lambda: value(samples(service), "trace_total", service="svc", operation="op1") == 1)
    assert value(samples(service), "streamproc_requests_undecodable_total", transport="grpc") == 1


def test_bad_spans_are_rejected_through_partial_success(service):
    """Bad id lengths and end before start: partial_success names the count and reasons; good spans pass."""
    request = otlp_request([span(1, 0, 0, 10, trace=trace_id(7)), span(2, 1, 5, 1, trace=trace_id(7))])
    request.resource_spans[0].scope_spans[0].spans.add(
        trace_id=b"\x01" * 16, span_id=b"\x02" * 3, name="short"
    )
    request.resource_spans[0].scope_spans[0].spans.add(
        trace_id=b"\x01" * 5, span_id=b"\x02" * 8, name="short"
    )
    response = export(service, request.SerializeToString())
    assert response.partial_success.rejected_spans == 3
    message = response.partial_success.error_message
    assert "rejected 3 spans" in message and "bad_span_id" in message and "end_before_start" in message
    wait_for(lambda: value(samples(service), "trace_total", service="svc", operation="op1") == 1)
    found = samples(service)
    assert value(found, "streamproc_spans_received_total", transport="grpc") == 4
    for reason in ("bad_span_id", "bad_trace_id", "end_before_start"):
        assert value(found, "streamproc_spans_dropped_total", reason=reason) == 1


def test_empty_request_and_unknown_fields_are_fine(service):
    """0 spans is a valid export; unknown protobuf fields are ignored."""
    assert export(service, b"") == PB2ExportTraceServiceResponse()
    unknown_field = b"\xfa\x3e\x03abc"  # field 999, length-delimited
    assert export(service, good_request(2) + unknown_field) == PB2ExportTraceServiceResponse()
    wait_for(lambda: value(samples(service), "trace_total", service="svc", operation="op1") == 1)


def test_gzip_compressed_requests_are_accepted(service):
    """The OTLP exporters' gzip compression is decompressed by the server."""
    response = export(service, good_request(3), compression=grpc.Compression.Gzip)
    assert response == PB2ExportTraceServiceResponse()
    wait_for(lambda: value(samples(service), "streamproc_spans_received_total", transport="grpc") == 3)


def test_a_100000_span_trace_is_analyzed():
    """One trace of 100,000 spans: completed at the per-trace bound, analyzed, the server still serves."""
    running = start_service(
        max_spans_per_trace=100_000, max_message_size=64 * 1024 * 1024, root_grace=60, idle_timeout=60
    )
    try:
        tid = trace_id(9)
        spans = [
            span(i, i - 1 if i > 1 else 0, i, 300_000 - i, trace=tid, service="deep")
            for i in range(1, 100_001)
        ]
        for offset in range(0, len(spans), 25_000):
            export(running, otlp_request(spans[offset : offset + 25_000]).SerializeToString())
        wait_for(lambda: value(samples(running), "trace_total", service="deep", operation="op1") == 1, 60)
        found = samples(running)
        assert value(found, "streamproc_traces_completed_total", reason="max_spans_per_trace") == 1
        assert value(found, "streamproc_spans_received_total", transport="grpc") == 100_000
        assert export(running, good_request(4)) == PB2ExportTraceServiceResponse()
    finally:
        running.shutdown()


def test_shutting_down_answers_unavailable_and_health_not_serving(service):
    """After stop_accepting: Export is UNAVAILABLE (retryable), health NOT_SERVING, refusals counted."""
    with grpc.insecure_channel(f"127.0.0.1:{service.receiver.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        assert (
            health.Check(health_pb2.HealthCheckRequest(service="")).status
            == health_pb2.HealthCheckResponse.SERVING
        )
        service.stop_accepting()
        assert (
            health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        )
    with pytest.raises(grpc.RpcError) as caught:
        export(service, good_request(5))
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    assert (
        value(samples(service), "streamproc_spans_refused_total", transport="grpc", reason="shutting_down")
        == 3
    )


def test_bearer_token_is_checked():
    """With a bearer token configured, a request without it is UNAUTHENTICATED; with it, accepted."""
    running = start_service(bearer_token="s3cret")
    try:
        with pytest.raises(grpc.RpcError) as caught:
            export(running, good_request())
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
        with grpc.insecure_channel(f"127.0.0.1:{running.receiver.port}") as channel:
            call = channel.unary_unary(EXPORT, response_deserializer=PB2ExportTraceServiceResponse.FromString)
            assert call(good_request(), metadata=(("authorization", "Bearer s3cret"),), timeout=10) == (
                PB2ExportTraceServiceResponse()
            )
    finally:
        running.shutdown()


def test_request_bytes_round_trip_is_the_sdk_wire_format():
    """Our encoder's requests decode as ExportTraceServiceRequest (the same message the SDK sends)."""
    parsed = PB2ExportTraceServiceRequest.FromString(good_request(6, 2))
    assert len(parsed.resource_spans[0].scope_spans[0].spans) == 2


@pytest.mark.parametrize(
    "bound", [{"max_inflight_requests": 1}, {"max_inflight_bytes": 1}], ids=["requests", "bytes"]
)
def test_over_capacity_answers_unavailable_before_decoding_and_counts_the_refusal(bound):
    """With one Export in progress and a bound of one request (or one byte) in flight, the next is
    UNAVAILABLE, counted as refused, and none of its spans is taken."""
    running = start_service(**bound)
    try:
        with one_export_in_flight(running), pytest.raises(grpc.RpcError) as caught:
            export(running, good_request(2))
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
        assert "over capacity" in caught.value.details()
        found = samples(running)
        assert value(found, "streamproc_spans_refused_total", transport="grpc", reason="over_capacity") == 3
        assert (
            value(found, "streamproc_spans_received_total", transport="grpc") == 3
        )  # the first request's only
    finally:
        running.shutdown()


def test_a_port_in_use_is_a_startup_error_naming_the_address():
    """A second server on a bound gRPC or HTTP port fails to start and names the address (gRPC's
    SO_REUSEPORT would otherwise share the port silently)."""
    from streamproc.live.service import Service
    from streamproc.live.settings import Settings

    first = start_service()
    try:
        grpc_taken = f"127.0.0.1:{first.receiver.port}"
        second = Service(
            Settings(grpc_listen=grpc_taken, http_listen="127.0.0.1:0", http_otlp_listen="127.0.0.1:0")
        )
        with pytest.raises(OSError, match=f"cannot listen on {grpc_taken} \\(OTLP/gRPC\\)"):
            second.start()
        second.shutdown(timeout_s=1)
        http_taken = f"127.0.0.1:{first.http.port}"
        with pytest.raises(
            OSError, match=f"cannot listen on {http_taken} \\(HTTP\\): Address already in use"
        ):
            Service(
                Settings(grpc_listen="127.0.0.1:0", http_listen=http_taken, http_otlp_listen="127.0.0.1:0")
            )
        otlp_taken = f"127.0.0.1:{first.http_receiver.port}"
        with pytest.raises(OSError, match=f"cannot listen on {otlp_taken} \\(OTLP/HTTP\\)"):
            Service(
                Settings(grpc_listen="127.0.0.1:0", http_listen="127.0.0.1:0", http_otlp_listen=otlp_taken)
            )
    finally:
        first.shutdown()


def test_a_call_reached_near_its_deadline_is_refused_not_ingested():
    """One worker busy for 0.7 s; a call with a 1 s deadline waits for it and is reached with ~0.3 s left:
    it gets UNAVAILABLE (not DEADLINE_EXCEEDED after its spans were taken), counted as `deadline`."""
    running = start_service(grpc_workers=1, min_deadline_left=0.5)
    try:
        with one_export_in_flight(running) as release:
            threading.Timer(0.7, release.set).start()
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as caught:
                export(running, good_request(2), timeout=1.0)
            assert caught.value.code() is grpc.StatusCode.UNAVAILABLE, caught.value.details()
            assert "deadline left" in caught.value.details()
            assert time.monotonic() - started < 1.0
        found = samples(running)
        assert value(found, "streamproc_spans_refused_total", transport="grpc", reason="deadline") == 3
        assert value(found, "streamproc_spans_received_total", transport="grpc") == 3
    finally:
        running.shutdown()
