"""Replaying a scenario into the live server gives the findings of the batch report; /api/report queries."""

from __future__ import annotations

import msgspec
import pytest

from streamproc.decode import Format
from streamproc.tools.generate import Scenario
from streamproc.tools.send import send_traces
from tests.cli import report_json
from tests.live import assert_report_equals_batch, http_get, report, samples, start_service, value, wait_for


@pytest.fixture(scope="module")
def replayed(scenario_traces):
    """The incident scenario sent into one server, waited for until every trace is analyzed."""
    traces = scenario_traces[Scenario.INCIDENT]
    service = start_service()
    send_traces([t.spans for t in traces], endpoint=f"127.0.0.1:{service.receiver.port}")
    wait_for(
        lambda: (
            sum(
                value(samples(service), "trace_total", service=s, operation=o)
                for s, o in {(t.spans[0].service, t.spans[0].name) for t in traces}
            )
            == len(traces)
        )
    )
    yield service
    service.shutdown()


def test_live_report_equals_report_json(capsys, replayed, scenario_files, scenario_traces):
    """Every count, list and percentile is equal: a window of fewer than EXACT_LIMIT traces keeps them all."""
    batch = report_json(capsys, scenario_files[Scenario.INCIDENT, Format.JAEGER])
    assert_report_equals_batch(report(replayed), batch, len(scenario_traces[Scenario.INCIDENT]))


def test_report_sections_and_filters_as_query_parameters(capsys, replayed, scenario_files):
    """Section flags and filters of the CLI work as query parameters, with the batch report's answers."""
    path = scenario_files[Scenario.INCIDENT, Format.JAEGER]
    live = report(replayed, "window=1h&errors&top=3")
    assert set(live) == {"summary", "errors", "filters", "window"}
    assert len(live["errors"]["patterns"]) == 3
    filtered = report(replayed, "window=1h&errors_only=true&dependencies")
    batch = report_json(capsys, path, "--errors-only", "--dependencies")
    assert filtered["summary"]["trace_count"] == batch["summary"]["trace_count"]
    assert filtered["dependencies"] == batch["dependencies"]
    assert filtered["window"]["filtered_from_recent_traces"] == 400
    slow = report(replayed, "window=1h&latency_threshold=800&service=user-service&bottlenecks")
    batch_slow = report_json(
        capsys, path, "--latency-threshold", "800", "--service", "user-service", "--bottlenecks"
    )
    assert slow["bottlenecks"] == batch_slow["bottlenecks"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("window=soon", "not a duration"),
        ("top=0", "top"),
        ("colour=red", "unknown parameter"),
        ("latency_threshold=fast", "not a number"),
        ("top=%C2%B2", "top"),  # a superscript two: a digit to str.isdigit, not to int()
        ("top=" + "9" * 5000, "top"),
        ("window=" + "9" * 400, "out of range"),
        ("window=0s", "window must be positive"),
        ("latency_threshold=-5", "latency_threshold cannot be negative"),
        ("latency_threshold=nan", "not a finite number"),
    ],
    ids=[
        "window-word",
        "top-0",
        "unknown",
        "latency-word",
        "top-superscript",
        "top-5000-digits",
        "window-400-digits",
        "window-0",
        "latency-negative",
        "latency-nan",
    ],
)
def test_bad_report_queries_are_400_with_a_reason(replayed, query, message):
    """A bad parameter is a 400 with a JSON error naming it, not a server error."""
    status, content_type, body = http_get(replayed, f"/api/report?{query}")
    assert (status, content_type) == (400, "application/json")
    assert message in msgspec.json.decode(body)["error"]


def test_health_and_readiness(replayed):
    """/healthz answers while the process lives; /readyz while the receiver accepts."""
    assert http_get(replayed, "/healthz")[0] == 200
    assert http_get(replayed, "/readyz")[0] == 200
    assert http_get(replayed, "/nothing")[0] == 404


def test_head_answers_like_get_without_a_body(replayed):
    """HEAD works on every endpoint (it got 501): the status and length of GET, no body."""
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{replayed.http.port}/metrics", method="HEAD")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert int(response.headers["Content-Length"]) > 1000
        assert response.read() == b""


def test_connections_are_bounded_and_idle_ones_time_out():
    """Past max_connections a new connection is closed at once; an idle one is dropped after the timeout,
    and the server answers again (600 idle connections held 600 threads for ever)."""
    import socket
    import time

    from prometheus_client import CollectorRegistry

    from streamproc.live.endpoints import HttpEndpoints

    http = HttpEndpoints(
        host="127.0.0.1",
        port=0,
        registry=CollectorRegistry(),
        report=lambda **_: {},  # type: ignore[arg-type, return-value]
        ready=lambda: True,
        max_connections=4,
        idle_timeout_s=2.0,
    )
    http.start()
    idle = [socket.create_connection(("127.0.0.1", http.port)) for _ in range(4)]
    try:
        time.sleep(0.3)  # all four accepted, their handlers waiting for a request line
        extra = socket.create_connection(("127.0.0.1", http.port))
        extra.settimeout(5)
        started = time.monotonic()
        assert extra.recv(1) == b""  # closed, and at once: the four idle ones hold every slot
        assert time.monotonic() - started < 1.0  # not after the idle timeout
        extra.close()
        for sock in idle:
            sock.settimeout(5)
            assert sock.recv(1) == b""  # dropped after the idle timeout
        status, _, _ = _get(http.port, "/healthz")
        assert status == 200
    finally:
        for sock in idle:
            sock.close()
        http.shutdown()


def _get(port: int, path: str) -> tuple[int, str, bytes]:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read()
