"""deploy/: Prometheus rules and config, Alertmanager, Collector, Kubernetes and Grafana files, checked by
parsing them and, where Debian's prometheus and prometheus-alertmanager packages are installed, by their
own tools."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streamproc.decode.common import DecodeResult
from streamproc.live.service import Service
from streamproc.live.settings import Settings, build_settings, read_config_file
from streamproc.tools.generate import Scenario, generate

DEPLOY = Path(__file__).parent.parent / "deploy"
needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool missing: install Debian's prometheus package"
)
needs_amtool = pytest.mark.skipif(
    shutil.which("amtool") is None, reason="amtool missing: install Debian's prometheus-alertmanager package"
)
# Names fixed by contract although promtool's lint prefers seconds: the alert rules of the issue query
# trace_duration_ms, and spanmetrics dashboards query the connector's *_duration_milliseconds.
CONTRACT_NAMES = {"trace_duration_ms", "traces_span_metrics_duration_milliseconds"}


def load(path: str):
    return yaml.safe_load((DEPLOY / path).read_text())


@pytest.fixture(scope="module")
def exported_metrics() -> str:
    """/metrics text of a server that analyzed an incident scenario (every family has samples)."""
    service = Service(
        Settings(
            grpc_listen="127.0.0.1:0", http_listen="127.0.0.1:0", http_otlp_listen="127.0.0.1:0", workers=1
        )
    )
    for trace in generate(Scenario.INCIDENT, count=200, seed=5, start_ns=0, window_ns=10**12):
        service.pipeline.ingest(DecodeResult(list(trace.spans), []))
    service.pipeline.drain()
    text = generate_latest(service.registry).decode()
    service.http.shutdown()
    service.http_receiver.shutdown()
    return text


def family_names(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


def test_alert_rules_hold_the_two_rules_as_written():
    """Group trace_performance holds HighTraceLatency and HighErrorRate, for: 5m, with the issue's queries."""
    groups = {g["name"]: g for g in load("prometheus/alerts.yml")["groups"]}
    rules = {r["alert"]: r for r in groups["trace_performance"]["rules"]}
    assert rules["HighTraceLatency"]["expr"] == (
        "histogram_quantile(0.95, sum(rate(trace_duration_ms_bucket[5m])) by (le, service)) > 500"
    )
    assert rules["HighErrorRate"]["expr"] == (
        "sum(rate(trace_errors_total[5m])) by (service) / sum(rate(trace_total[5m])) by (service) > 0.02"
    )
    assert rules["HighTraceLatency"]["for"] == rules["HighErrorRate"]["for"] == "5m"


def test_rules_and_dashboard_query_only_exported_metrics(exported_metrics):
    """Every metric name in the alert rules and the Grafana dashboard is one streamproc exports."""
    exported = family_names(exported_metrics)
    exprs = [r["expr"] for g in load("prometheus/alerts.yml")["groups"] for r in g["rules"]]
    dashboard = json.loads((DEPLOY / "grafana/streamproc-dashboard.json").read_text())
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    exprs += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    used = {name for expr in exprs for name in re.findall(r"\b((?:trace|traces|streamproc)_[a-z_]+)", expr)}
    assert used
    for name in used:
        base = re.sub(r"_(bucket|count|sum|total)$", "", name)
        assert base in exported or name in exported, name
    assert len(dashboard["panels"]) >= 6


def test_alertmanager_routes_by_alertname_and_service_to_a_webhook():
    """The route groups by alertname and service and ends at a webhook receiver."""
    config = load("alertmanager/alertmanager.yml")
    assert config["route"]["group_by"] == ["alertname", "service"]
    receiver = next(r for r in config["receivers"] if r["name"] == config["route"]["receiver"])
    assert receiver["webhook_configs"][0]["url"].startswith("http")
    assert "# - name: oncall-pager" in (DEPLOY / "alertmanager/alertmanager.yml").read_text()


def test_collector_configs():
    """Fan-out exports to a backend and to streamproc; scale-out routes by traceID (static and DNS)."""
    fanout = load("collector/fanout.yaml")
    assert fanout["service"]["pipelines"]["traces"]["exporters"] == ["otlp/backend", "otlp/streamproc"]
    assert fanout["exporters"]["otlp/streamproc"]["endpoint"].endswith(":4317")
    for name, resolver in (("loadbalancing-static.yaml", "static"), ("loadbalancing-kubernetes.yaml", "dns")):
        config = load(f"collector/{name}")
        exporter = config["exporters"]["loadbalancing"]
        assert exporter["routing_key"] == "traceID"
        assert resolver in exporter["resolver"]
        assert config["service"]["pipelines"]["traces"]["exporters"] == ["loadbalancing"]
    dns = load("collector/loadbalancing-kubernetes.yaml")["exporters"]["loadbalancing"]["resolver"]["dns"]
    assert dns["hostname"].startswith("streamproc-headless.")


def test_kubernetes_manifests():
    """Probes on /readyz and /healthz, both ports, a headless Service, limits, grace period over the drain."""
    documents = {
        (d["kind"], d["metadata"]["name"]): d
        for d in yaml.safe_load_all((DEPLOY / "kubernetes/streamproc.yaml").read_text())
    }
    pod = documents["Deployment", "streamproc"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {p["containerPort"] for p in container["ports"]} == {4317, 4318, 9464}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    drain = build_settings([("env", {"drain_seconds": container["env"][0]["value"]})]).drain_seconds
    assert pod["terminationGracePeriodSeconds"] > drain
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert documents["Service", "streamproc-headless"]["spec"]["clusterIP"] == "None"
    assert {p["port"] for p in documents["Service", "streamproc"]["spec"]["ports"]} == {4317, 4318, 9464}
    assert ("PodMonitor", "streamproc") in documents


def test_dockerfile_and_deploy_settings():
    """The image runs as non-root from a pinned base with a health check; its settings file is valid."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:\d+\.\d+\.\d+-slim-bookworm", dockerfile, re.M)
    assert re.search(r"^USER 10001$", dockerfile, re.M) and "HEALTHCHECK" in dockerfile
    settings = build_settings([("file", read_config_file(str(DEPLOY / "streamproc.toml")))])
    assert settings.drain_seconds == 15.0


@needs_promtool
def test_promtool_checks_rules_and_config():
    """promtool check rules and check config are clean."""
    for args in (["check", "rules", "alerts.yml"], ["check", "config", "prometheus.yml"]):
        done = subprocess.run(
            ["promtool", *args], cwd=DEPLOY / "prometheus", capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_promtool_rule_unit_tests_pass():
    """Each rule fires on the series it should and stays silent on healthy ones (alerts.test.yml)."""
    done = subprocess.run(
        ["promtool", "test", "rules", "alerts.test.yml"],
        cwd=DEPLOY / "prometheus",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_promtool_check_metrics_reports_only_the_contract_names(exported_metrics):
    """promtool check metrics on /metrics: nothing but the unit lint on the two names fixed by contract."""
    done = subprocess.run(
        ["promtool", "check", "metrics"], input=exported_metrics, capture_output=True, text=True, check=False
    )
    findings = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    named = {line.split()[0] for line in findings}
    assert named <= CONTRACT_NAMES, findings


@needs_amtool
def test_amtool_checks_the_alertmanager_config():
    """amtool check-config is clean."""
    done = subprocess.run(
        ["amtool", "check-config", str(DEPLOY / "alertmanager/alertmanager.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_grafana_provisioning_links_exemplars_to_the_retained_traces():
    """The Prometheus data source turns the `trace_id` exemplar label (the one streamproc writes) into a
    link to the Jaeger data source, which points at streamproc's HTTP port; the latency panel asks for
    exemplars; the dashboard provider names a path."""
    sources = {d["uid"]: d for d in load("grafana/provisioning/datasources/streamproc.yaml")["datasources"]}
    traces = next(d for d in sources.values() if d["type"] == "jaeger")
    assert traces["url"].endswith(":9464")
    prometheus = next(d for d in sources.values() if d["type"] == "prometheus")
    (link,) = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    assert (link["name"], link["datasourceUid"]) == ("trace_id", traces["uid"])
    dashboard = json.loads((DEPLOY / "grafana/streamproc-dashboard.json").read_text())
    latency = next(p for p in dashboard["panels"] if p["title"].startswith("Trace latency"))
    assert all(target.get("exemplar") for target in latency["targets"])
    (provider,) = load("grafana/provisioning/dashboards/streamproc.yaml")["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]


def test_trace_alerts_say_where_to_look():
    """Each trace_performance alert's page links the diagnosis of its service (/api/diagnose)."""
    (group,) = [g for g in load("prometheus/alerts.yml")["groups"] if g["name"] == "trace_performance"]
    for rule in group["rules"]:
        link = rule["annotations"]["diagnose"]
        assert "/api/diagnose?" in link and link.endswith("service={{ $labels.service }}"), rule["alert"]
