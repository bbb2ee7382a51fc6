"""End to end: OTel SDK -> streamproc -> Prometheus (deploy rules) -> Alertmanager (deploy config) -> webhook.

The deploy files are used as they are but for what a test must change: the rules' windows and `for:`
are shortened by substitution (5m -> 20s / 5s), addresses point at free loopback ports, and the
Alertmanager group timers are shortened. The incident scenario is sent by the real OpenTelemetry SDK as
`api-gateway`; healthy traffic as `storefront`. The test passes only when the webhook has received
HighTraceLatency and HighErrorRate for api-gateway, and neither for storefront.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import msgspec
import pytest
import yaml
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind as OtelKind
from opentelemetry.trace import Status, StatusCode, set_span_in_context

from streamproc.model import SpanKind, Trace
from streamproc.report.jaeger import span_attribute_items
from streamproc.tools.generate import Scenario, generate_trace
from tests.live import http_get, start_service

DEPLOY = Path(__file__).parent.parent / "deploy"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None or ALERTMANAGER is None,
    reason="needs Debian's prometheus and prometheus-alertmanager packages (.ci/run installs them)",
)
KINDS = {
    SpanKind.SERVER: OtelKind.SERVER,
    SpanKind.CLIENT: OtelKind.CLIENT,
    SpanKind.PRODUCER: OtelKind.PRODUCER,
    SpanKind.CONSUMER: OtelKind.CONSUMER,
    SpanKind.INTERNAL: OtelKind.INTERNAL,
    SpanKind.UNSPECIFIED: OtelKind.INTERNAL,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{url}: process exited with {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} not ready")


class Webhook:
    """The small webhook receiver Alertmanager posts to: it keeps every alert it is sent."""

    def __init__(self) -> None:
        self.alerts: list[dict] = []
        received = self.alerts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.extend(msgspec.json.decode(body)["alerts"])
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def firing(self) -> set[tuple[str, str]]:
        return {
            (a["labels"]["alertname"], a["labels"].get("service", ""))
            for a in self.alerts
            if a["status"] == "firing"
        }


def shorten(text: str) -> str:
    """The only change to the deploy rules: windows and `for:` shortened so the test takes seconds."""
    return text.replace("[5m]", "[20s]").replace("for: 5m", "for: 5s").replace("for: 10m", "for: 10s")


class SdkSender:
    """Sends generated traces through the real OTel SDK: one TracerProvider per service, explicit times."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.providers: dict[str, TracerProvider] = {}

    def tracer(self, service: str):
        if service not in self.providers:
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            exporter = OTLPSpanExporter(endpoint=self.endpoint, insecure=True)
            provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=200))
            self.providers[service] = provider
        return self.providers[service].get_tracer("e2e")

    def send(self, trace: Trace) -> None:
        shift = time.time_ns() - min(s.start_ns for s in trace.spans)
        made: dict[bytes, object] = {}
        for span in trace.spans:  # generated traces list every parent before its children
            parent = made.get(span.parent_span_id)
            sdk_span = self.tracer(span.service).start_span(
                span.name,
                context=set_span_in_context(parent) if parent else None,
                kind=KINDS[span.kind],
                start_time=span.start_ns + shift,
                attributes=dict(span_attribute_items(span)),
            )
            if span.is_error:
                sdk_span.set_status(Status(StatusCode.ERROR, span.status_message))
            made[span.span_id] = sdk_span
        for span in trace.spans:
            made[span.span_id].end(end_time=span.end_ns + shift)

    def shutdown(self) -> None:
        for provider in self.providers.values():
            provider.shutdown()


def as_storefront(trace: Trace) -> Trace:
    spans = tuple(s._replace(service="storefront") if s.service == "api-gateway" else s for s in trace.spans)
    return Trace(trace.trace_id, spans)


def start_alertmanager(tmp_path: Path, webhook: Webhook, processes: list[subprocess.Popen]) -> int:
    """Alertmanager with the deploy config: webhook URL and group timers pointed at the test."""
    port = free_port()
    config = load_yaml(DEPLOY / "alertmanager/alertmanager.yml")
    config["route"].update(group_wait="1s", group_interval="2s")
    config["receivers"][0]["webhook_configs"][0]["url"] = webhook.url
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    processes.append(
        subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    wait_ready(f"http://127.0.0.1:{port}/-/ready", processes[-1])
    return port


def start_prometheus(
    tmp_path: Path, am_port: int, streamproc_port: int, processes: list[subprocess.Popen]
) -> int:
    """Prometheus with the deploy scrape config and rules: shortened windows, loopback addresses."""
    port = free_port()
    (tmp_path / "alerts.yml").write_text(shorten((DEPLOY / "prometheus/alerts.yml").read_text()))
    config = load_yaml(DEPLOY / "prometheus/prometheus.yml")
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(tmp_path / "alerts.yml")]
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{am_port}"]
    config["scrape_configs"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{streamproc_port}"]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    processes.append(
        subprocess.Popen(
            [
                "prometheus",
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--enable-feature=exemplar-storage",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    wait_ready(f"http://127.0.0.1:{port}/-/ready", processes[-1])
    return port


def prometheus_api(port: int, path: str, **params: str) -> object:
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/{path}?{query}", timeout=5) as answer:
        return msgspec.json.decode(answer.read())["data"]


def test_incident_alerts_reach_the_webhook_and_healthy_traffic_stays_silent(tmp_path):
    streamproc = start_service()
    webhook = Webhook()
    processes: list[subprocess.Popen] = []
    sender = SdkSender(f"127.0.0.1:{streamproc.receiver.port}")
    stop = threading.Event()
    try:
        am_port = start_alertmanager(tmp_path, webhook, processes)
        prom_port = start_prometheus(tmp_path, am_port, streamproc.http.port, processes)

        def traffic() -> None:
            rng = random.Random(4)
            while not stop.is_set():
                started = time.monotonic()
                for _ in range(20):
                    sender.send(generate_trace(rng, Scenario.INCIDENT, 0))
                    sender.send(as_storefront(generate_trace(rng, Scenario.HEALTHY, 0)))
                stop.wait(max(0.0, 0.5 - (time.monotonic() - started)))

        threading.Thread(target=traffic, daemon=True).start()
        wanted = {("HighTraceLatency", "api-gateway"), ("HighErrorRate", "api-gateway")}
        deadline = time.monotonic() + 100
        while not wanted <= webhook.firing() and time.monotonic() < deadline:
            time.sleep(0.5)
        firing = webhook.firing()
        assert wanted <= firing, f"webhook received {sorted(firing)}"
        assert not {alert for alert in firing if alert[1] == "storefront"}, sorted(firing)
        # Silence means something only if the healthy traffic was measured: Prometheus has its rates.
        result = prometheus_api(prom_port, "query", query='sum(rate(trace_total{service="storefront"}[20s]))')
        assert isinstance(result, dict) and result["result"], result
        assert float(result["result"][0]["value"][1]) > 10, result
        # What Grafana does with an exemplar on the latency panel: Prometheus's exemplar query, then the
        # trace id opened through the Jaeger data source, here streamproc's own retained traces.
        now = time.time()
        exemplars = prometheus_api(
            prom_port,
            "query_exemplars",
            query='trace_duration_ms_bucket{service="api-gateway"}',
            start=str(now - 120),
            end=str(now),
        )
        assert isinstance(exemplars, list)
        trace_ids = {e["labels"]["trace_id"] for series in exemplars for e in series["exemplars"]}
        assert len(trace_ids) >= 3, exemplars
        for trace_id in sorted(trace_ids)[:20]:
            status, _, body = http_get(streamproc, f"/api/traces/{trace_id}")
            assert status == 200, (trace_id, body[:200])
            assert msgspec.json.decode(body)["data"][0]["traceID"] == trace_id
    finally:
        stop.set()
        sender.shutdown()
        for process in processes:
            process.terminate()
            process.wait(timeout=15)
        webhook.server.shutdown()
        webhook.server.server_close()
        streamproc.shutdown()


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())
