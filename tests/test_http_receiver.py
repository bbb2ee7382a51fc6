"""OTLP/HTTP (`POST /v1/traces` on its own port): the real OTel SDK's HTTP exporter, JSON bodies as the
Collector's `otlphttp` exporter sends them (`encoding: json`: hex ids, enums as ints, int64 as strings),
gzip, partial success in the request's encoding, and every refusal with its status and count."""

from __future__ import annotations

import gzip
import http.client
import json
import ssl

import pytest
from google.rpc.status_pb2 import Status as PB2Status
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, set_span_in_context
from prometheus_client.parser import text_string_to_metric_families

from streamproc.decode import Format
from streamproc.tools.encode import encode, otlp_request
from streamproc.tools.generate import Scenario, generate
from tests.live import report, samples, start_service, value, wait_for
from tests.test_security import https_get, pki  # noqa: F401  # pki: the fixture, a test CA and certificates

START_NS = 1_767_225_600 * 10**9
PROTOBUF, JSON = "application/x-protobuf", "application/json"


@pytest.fixture
def service():
    running = start_service()
    yield running
    running.shutdown()


def post(service, body: bytes, content_type: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", service.http_receiver.port, timeout=10)
    try:
        connection.request("POST", "/v1/traces", body, {"Content-Type": content_type, **headers})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def traces(count: int = 20, seed: int = 3):
    return generate(Scenario.INCIDENT, count=count, seed=seed, start_ns=START_NS, window_ns=10**9)


def received(service) -> float:
    return value(samples(service), "streamproc_spans_received_total", transport="http")


def test_the_sdk_http_exporter_delivers_traces_with_their_edges(service):
    """Two services exporting with the SDK's OTLP/HTTP (protobuf) exporter: the trace is analyzed and its
    service-graph edge is there, received over the http transport."""
    providers = []
    for name in ("web", "billing"):
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        endpoint = f"http://127.0.0.1:{service.http_receiver.port}/v1/traces"
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        providers.append(provider)
    web, billing = (p.get_tracer("test") for p in providers)
    root = web.start_span("GET /pay", kind=SpanKind.SERVER)
    client = web.start_span("POST billing", kind=SpanKind.CLIENT, context=set_span_in_context(root))
    billing.start_span("POST /charge", kind=SpanKind.SERVER, context=set_span_in_context(client)).end()
    client.end()
    root.end()
    for provider in providers:
        provider.shutdown()
    wait_for(lambda: value(samples(service), "trace_total", service="web", operation="GET /pay") == 1)
    assert received(service) == 3
    edges = report(service)["dependencies"]["edges"]
    assert [(e["parent"], e["child"], e["call_count"]) for e in edges] == [("web", "billing", 1)]


def test_json_and_protobuf_bodies_give_the_same_report(service):
    """The same traces as OTLP JSON (hex ids, as the Collector's otlphttp exporter sends) and as gzipped
    protobuf into two servers: equal reports."""
    sent = traces(40)
    status, _, body = post(service, encode(sent, Format.OTLP_JSON), JSON)
    assert (status, json.loads(body)) == (200, {})
    other = start_service()
    try:
        raw = gzip.compress(otlp_request([s for t in sent for s in t.spans]).SerializeToString())
        status, headers, body = post(other, raw, PROTOBUF, **{"Content-Encoding": "gzip"})
        assert (status, headers["Content-Type"]) == (200, PROTOBUF)
        assert not ExportTraceServiceResponse.FromString(body).HasField("partial_success")
        spans = sum(len(t.spans) for t in sent)
        wait_for(lambda: received(service) == spans and received(other) == spans)
        wait_for(
            lambda: report(service)["summary"]["trace_count"] == report(other)["summary"]["trace_count"] == 40
        )
        mine, theirs = report(service), report(other)
        for side in (mine, theirs):
            side.pop("window")
        assert mine == theirs
    finally:
        other.shutdown()


def test_rejected_spans_come_back_as_partial_success_in_the_request_encoding(service):
    doc = json.loads(encode(traces(2), Format.OTLP_JSON))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = "abc"  # a 3-digit span id
    status, _, body = post(service, json.dumps(doc).encode(), JSON)
    answer = json.loads(body)
    assert status == 200 and answer["partialSuccess"]["rejectedSpans"] == "1"  # int64 as a string
    assert "bad_span_id" in answer["partialSuccess"]["errorMessage"]

    request = otlp_request([s for t in traces(2) for s in t.spans])
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = b"\x01\x02"
    status, _, body = post(service, request.SerializeToString(), PROTOBUF)
    partial = ExportTraceServiceResponse.FromString(body).partial_success
    assert status == 200 and partial.rejected_spans == 1 and "bad_trace_id" in partial.error_message


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "status"),
    [
        (b"\xff\xff\xff", PROTOBUF, {}, 400),  # not a protobuf message
        (b"{not json", JSON, {}, 400),
        (b"[1, 2]", JSON, {}, 400),  # JSON, but not an ExportTraceServiceRequest object
        (b"\x1f\x8bnot really gzip", PROTOBUF, {"Content-Encoding": "gzip"}, 400),
        (b"{}", "text/plain", {}, 415),
        (b"{}", JSON, {"Content-Encoding": "br"}, 415),
    ],
)
def test_bad_requests_get_a_clear_status_in_the_request_encoding(
    service, body, content_type, headers, status
):
    got, _, answer = post(service, body, content_type, **headers)
    assert got == status
    if content_type == PROTOBUF:
        assert PB2Status.FromString(answer).message
    else:
        assert json.loads(answer)["message"]
    if status == 400 and not headers:
        assert value(samples(service), "streamproc_requests_undecodable_total", transport="http") == 1


def test_size_limits_count_the_sent_and_the_unzipped_body():
    big = otlp_request([s for t in traces(20) for s in t.spans]).SerializeToString()
    zipped = gzip.compress(big)
    limit = (len(big) + len(zipped)) // 2
    running = start_service(max_message_size=limit)
    try:
        status, _, body = post(running, big, PROTOBUF)
        assert status == 413 and b"over the limit" in PB2Status.FromString(body).message.encode()
        status, _, _ = post(running, zipped, PROTOBUF, **{"Content-Encoding": "gzip"})
        assert status == 413  # a small zip of a large body: refused as it unzips, never held whole
        assert received(running) == 0
    finally:
        running.shutdown()


def test_length_path_and_method_are_checked(service):
    connection = http.client.HTTPConnection("127.0.0.1", service.http_receiver.port, timeout=10)
    connection.putrequest("POST", "/v1/traces")
    connection.putheader("Content-Type", PROTOBUF)
    connection.endheaders()  # no Content-Length, no body
    assert connection.getresponse().status == 411
    connection.close()
    assert post(service, b"", PROTOBUF)[0] == 200  # an empty request is a valid, empty export
    for method, path, status in (("POST", "/v1/logs", 404), ("GET", "/v1/traces", 405)):
        connection = http.client.HTTPConnection("127.0.0.1", service.http_receiver.port, timeout=10)
        connection.request(method, path, b"" if method == "POST" else None, {"Content-Type": PROTOBUF})
        assert connection.getresponse().status == status
        connection.close()


def test_over_capacity_and_shutting_down_are_503_with_retry_after(service):
    """The admission is the gRPC receiver's: a request held in flight fills it; refused spans counted."""
    body = otlp_request([s for t in traces(1) for s in t.spans]).SerializeToString()
    spans = len(traces(1)[0].spans)
    service.admission.max_inflight = 1
    with service.admission.admitted(0):
        status, headers, _ = post(service, body, PROTOBUF)
    assert (status, headers["Retry-After"]) == (503, "1")
    found = samples(service)
    assert value(found, "streamproc_spans_refused_total", transport="http", reason="over_capacity") == spans
    service.stop_accepting()
    status, headers, _ = post(service, body, PROTOBUF)
    assert (status, headers["Retry-After"]) == (503, "1")
    found = samples(service)
    assert value(found, "streamproc_spans_refused_total", transport="http", reason="shutting_down") == spans
    assert received(service) == 0


def test_token_and_tls_are_the_grpc_receivers(pki, tmp_path):  # noqa: F811
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    running = start_service(
        tls_cert_file=pki["cert"], tls_key_file=pki["key"], bearer_token_file=str(token_file)
    )
    try:
        context = ssl.create_default_context(cafile=pki["ca"])
        body = otlp_request([s for t in traces(1) for s in t.spans]).SerializeToString()
        for token, status in (("", 401), ("wrong", 401), ("s3cret", 200)):
            connection = http.client.HTTPSConnection("127.0.0.1", running.http_receiver.port, context=context)
            headers = {"Content-Type": PROTOBUF, **({"Authorization": f"Bearer {token}"} if token else {})}
            connection.request("POST", "/v1/traces", body, headers)
            assert connection.getresponse().status == status
            connection.close()
        assert (
            value(samples_https(running, pki["ca"]), "streamproc_auth_failures_total", listener="otlp_http")
            == 2
        )
    finally:
        running.shutdown()


def samples_https(service, ca: str):
    _, body = https_get(service.http.port, "/metrics", ca)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }
