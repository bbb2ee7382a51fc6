"""TLS on both listeners, mutual TLS, bearer tokens (from files too) on ingest and on the HTTP API, failed
authentications counted (DESIGN section 8). The client is the real OTel SDK exporter over TLS."""

from __future__ import annotations

import socket
import ssl
import urllib.error
import urllib.request

import grpc
import pytest
import trustme
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from prometheus_client.parser import text_string_to_metric_families

from tests.live import start_service, wait_for


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A test CA (trustme), a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    directory = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client@example.com")
    files = {
        "ca": directory / "ca.pem",
        "cert": directory / "server.pem",
        "key": directory / "server.key",
        "client_cert": directory / "client.pem",
        "client_key": directory / "client.key",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    server.cert_chain_pems[0].write_to_path(str(files["cert"]))
    server.private_key_pem.write_to_path(str(files["key"]))
    client.cert_chain_pems[0].write_to_path(str(files["client_cert"]))
    client.private_key_pem.write_to_path(str(files["client_key"]))
    return {name: str(path) for name, path in files.items()}


def https_get(port: int, path: str, ca: str, token: str = "") -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=ca)
    request = urllib.request.Request(f"https://127.0.0.1:{port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def metric(body: bytes, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def test_the_sdk_exports_over_tls_and_metrics_are_served_over_https(pki):
    """TLS on gRPC and HTTP: the OTel SDK's exporter with the CA's root certificate delivers a trace."""
    service = start_service(tls_cert_file=pki["cert"], tls_key_file=pki["key"])
    try:
        with open(pki["ca"], "rb") as ca:
            credentials = grpc.ssl_channel_credentials(root_certificates=ca.read())
        tracer_provider = TracerProvider(resource=Resource.create({"service.name": "secure"}))
        exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{service.receiver.port}", credentials=credentials)
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer_provider.get_tracer("t").start_span("GET /").end()

        def counted() -> bool:
            status, body = https_get(service.http.port, "/metrics", pki["ca"])
            return status == 200 and metric(body, "trace_total", service="secure", operation="GET /") == 1

        wait_for(counted)
        tracer_provider.shutdown()
        with socket.create_connection(("127.0.0.1", service.http.port), timeout=5) as plain:
            plain.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")  # plain HTTP to the TLS port: no answer
            assert not plain.recv(100).startswith(b"HTTP/")
    finally:
        service.shutdown()


def test_mutual_tls_refuses_a_client_without_a_certificate(pki):
    service = start_service(tls_cert_file=pki["cert"], tls_key_file=pki["key"], tls_client_ca_file=pki["ca"])
    try:
        with (
            open(pki["ca"], "rb") as ca,
            open(pki["client_cert"], "rb") as cert,
            open(pki["client_key"], "rb") as key,
        ):
            root, chain, private = ca.read(), cert.read(), key.read()
        target = f"127.0.0.1:{service.receiver.port}"
        anonymous = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=root))
        with pytest.raises(grpc.FutureTimeoutError):
            grpc.channel_ready_future(anonymous).result(timeout=3)
        anonymous.close()
        trusted = grpc.secure_channel(
            target,
            grpc.ssl_channel_credentials(
                root_certificates=root, private_key=private, certificate_chain=chain
            ),
        )
        grpc.channel_ready_future(trusted).result(timeout=10)
        trusted.close()
    finally:
        service.shutdown()


def test_the_http_api_has_a_token_of_its_own_and_failures_are_counted(tmp_path):
    """With http_bearer_token_file set, /metrics and /api/report need the token (401 and counted without
    it); the probes stay open; the ingest token is separate and read from its own file."""
    (tmp_path / "http.token").write_text("scrape-secret\n")
    (tmp_path / "ingest.token").write_text("ingest-secret\n")
    service = start_service(
        http_bearer_token_file=str(tmp_path / "http.token"), bearer_token_file=str(tmp_path / "ingest.token")
    )
    base = f"http://127.0.0.1:{service.http.port}"
    try:
        for path in ("/metrics", "/api/report"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path, timeout=10)
            assert refused.value.code == 401
            assert refused.value.headers["WWW-Authenticate"] == "Bearer"
            refused.value.close()
        with urllib.request.urlopen(base + "/healthz", timeout=10) as response:
            assert response.status == 200
        with grpc.insecure_channel(f"127.0.0.1:{service.receiver.port}") as channel:
            export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
            with pytest.raises(grpc.RpcError) as caught:
                export(b"", timeout=10, metadata=(("authorization", "Bearer scrape-secret"),))
            assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
            export(b"", timeout=10, metadata=(("authorization", "Bearer ingest-secret"),))
        request = urllib.request.Request(base + "/metrics", headers={"Authorization": "Bearer scrape-secret"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        assert metric(body, "streamproc_auth_failures_total", listener="http") == 2
        assert metric(body, "streamproc_auth_failures_total", listener="grpc") == 1
        assert b"secret" not in body
    finally:
        service.shutdown()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"tls_cert_file": "/nonexistent.pem", "tls_key_file": "/nonexistent.key"}, "/nonexistent"),
        ({"tls_cert_file": "x.pem"}, "tls_cert_file and tls_key_file go together"),
        ({"bearer_token": "a", "bearer_token_file": "b"}, "give bearer_token or bearer_token_file, not both"),
    ],
)
def test_bad_security_settings_are_usage_errors(settings, message):
    from streamproc.errors import UsageError
    from streamproc.live.service import Service
    from streamproc.live.settings import build_settings

    with pytest.raises(UsageError, match=message):
        Service(
            build_settings(
                [
                    (
                        "flag",
                        {
                            "grpc_listen": "127.0.0.1:0",
                            "http_listen": "127.0.0.1:0",
                            "http_otlp_listen": "127.0.0.1:0",
                            **settings,
                        },
                    )
                ]
            )
        )
