"""The real OpenTelemetry Python SDK exporting to `streamproc serve` on a free port; /metrics parsed with
prometheus_client's parser shows the counts, bucket counts, labels and service-graph edges expected."""

from __future__ import annotations

import time

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from tests.live import http_get, samples, start_service, value, wait_for

MS = 1_000_000


@pytest.fixture
def service():
    running = start_service()
    yield running
    running.shutdown()


def provider(service_name: str, port: int) -> TracerProvider:
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True)
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    return tracer_provider


def checkout(gateway, payments, *, duration_ms: int, fail: bool) -> None:
    """checkout SERVER -> checkout CLIENT -> payments SERVER (-> postgres CLIENT); times set explicitly."""
    start = time.time_ns()
    root = gateway.start_span("POST /checkout", kind=SpanKind.SERVER, start_time=start)
    root_context = set_span_in_context(root)
    client = gateway.start_span(
        "POST payments",
        kind=SpanKind.CLIENT,
        context=root_context,
        start_time=start + 5 * MS,
        attributes={"peer.service": "payments"},
    )
    server = payments.start_span(
        "POST /charge", kind=SpanKind.SERVER, context=set_span_in_context(client), start_time=start + 6 * MS
    )
    db = payments.start_span(
        "INSERT charges",
        kind=SpanKind.CLIENT,
        context=set_span_in_context(server),
        start_time=start + 7 * MS,
        attributes={
            "db.system": "postgresql",
            "db.name": "charges",
            "db.statement": "INSERT INTO charges VALUES (1, 'x')",
        },
    )
    if fail:
        db.set_status(Status(StatusCode.ERROR, "deadlock detected"))
        server.set_status(Status(StatusCode.ERROR, "charge failed"))
    db.end(end_time=start + (duration_ms - 8) * MS)
    server.end(end_time=start + (duration_ms - 7) * MS)
    client.end(end_time=start + (duration_ms - 6) * MS)
    root.end(end_time=start + duration_ms * MS)


def test_sdk_spans_become_trace_metrics(service):
    """Trace counts, error counts, duration buckets, spanmetrics and service-graph edges, by the real SDK."""
    shop = provider("shop", service.receiver.port)
    pay = provider("payments", service.receiver.port)
    gateway, payments = shop.get_tracer("test"), pay.get_tracer("test")
    durations = [(100, False), (200, False), (300, True), (700, False), (900, True), (1200, False)]
    for duration_ms, fail in durations:
        checkout(gateway, payments, duration_ms=duration_ms, fail=fail)
    assert shop.force_flush() and pay.force_flush()
    root = {"service": "shop", "operation": "POST /checkout"}
    wait_for(lambda: value(samples(service), "trace_total", **root) == 6)
    shop.shutdown()
    pay.shutdown()

    found = samples(service)
    assert value(found, "trace_errors_total", **root) == 2
    assert value(found, "trace_duration_ms_count", **root) == 6
    assert value(found, "trace_duration_ms_bucket", le="250.0", **root) == 2
    assert value(found, "trace_duration_ms_bucket", le="500.0", **root) == 3
    assert value(found, "trace_duration_ms_bucket", le="1000.0", **root) == 5
    assert value(found, "trace_duration_ms_bucket", le="+Inf", **root) == 6
    assert value(found, "trace_duration_ms_sum", **root) == pytest.approx(3400.0)

    charge = {"service_name": "payments", "span_name": "POST /charge", "span_kind": "SPAN_KIND_SERVER"}
    assert value(found, "traces_span_metrics_calls_total", status_code="STATUS_CODE_ERROR", **charge) == 2
    assert value(found, "traces_span_metrics_calls_total", status_code="STATUS_CODE_UNSET", **charge) == 4

    edge = {"client": "shop", "server": "payments", "connection_type": ""}
    assert value(found, "traces_service_graph_request_total", **edge) == 6
    assert value(found, "traces_service_graph_request_failed_total", **edge) == 2
    assert value(found, "traces_service_graph_request_server_seconds_count", **edge) == 6
    db_edge = {"client": "payments", "server": "charges", "connection_type": "database"}
    assert value(found, "traces_service_graph_request_total", **db_edge) == 6

    assert (
        value(
            found,
            "trace_error_spans_total",
            service="payments",
            operation="INSERT charges",
            classification="originating",
        )
        == 2
    )
    assert (
        value(
            found,
            "trace_error_spans_total",
            service="payments",
            operation="POST /charge",
            classification="propagated",
        )
        == 2
    )
    assert (
        value(
            found,
            "trace_error_spans_total",
            service="shop",
            operation="POST payments",
            classification="handled",
        )
        == 2
    )
    assert value(found, "streamproc_spans_received_total", transport="grpc") == 24
    assert value(found, "streamproc_traces_completed_total", reason="root_grace") == 6


def test_openmetrics_scrape_carries_trace_id_exemplars(service):
    """Scraped as OpenMetrics, histogram buckets carry a trace_id exemplar with the observed value."""
    shop = provider("shop", service.receiver.port)
    pay = provider("payments", service.receiver.port)
    checkout(shop.get_tracer("t"), pay.get_tracer("t"), duration_ms=50, fail=False)
    shop.force_flush()
    pay.force_flush()
    wait_for(lambda: value(samples(service), "trace_total", service="shop", operation="POST /checkout") == 1)
    status, content_type, body = http_get(service, "/metrics", accept="application/openmetrics-text")
    assert status == 200
    assert content_type.startswith("application/openmetrics-text")
    with_exemplars = [
        line
        for line in body.decode().splitlines()
        if line.startswith("trace_duration_ms_bucket") and '# {trace_id="' in line
    ]
    assert len(with_exemplars) == 1  # one trace: only its bucket (le is inclusive: 50 ms is le="50.0")
    assert with_exemplars[0].startswith('trace_duration_ms_bucket{le="50.0"')
    exemplar_value = float(with_exemplars[0].split("} ")[-1].split()[0])
    duration = value(samples(service), "trace_duration_ms_sum", service="shop", operation="POST /checkout")
    assert exemplar_value == duration == 50.0  # the trace's duration, not 0.0
    shop.shutdown()
    pay.shutdown()
