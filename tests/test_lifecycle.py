"""`streamproc serve` as a process: startup line, SIGTERM drain with buffered traces, exit code 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streamproc.errors import SendError
from streamproc.tools.send import send_traces
from tests.builders import span, trace_id


def metric(port: int, name: str, **labels: str) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body = response.read().decode()
    except OSError:
        return None
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def server():
    """streamproc serve on free ports with long timers (traces stay buffered) and a 3 s drain."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamproc.cli",
            "serve",
            "--grpc-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--http-otlp-listen",
            "127.0.0.1:0",
            "--root-grace",
            "60s",
            "--idle-timeout",
            "60s",
            "--drain-seconds",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "STREAMPROC_LOG_FORMAT": "json"},
    )
    started = json.loads(process.stderr.readline())
    yield process, started
    if process.poll() is None:
        process.kill()
        process.wait()
    process.stdout.close()
    process.stderr.close()


def test_startup_line_names_the_bound_ports(server):
    """Port 0 binds free ports; the JSON startup line says which, with the limits."""
    _, started = server
    assert started["event"] == "streamproc_started"
    assert started["grpc"].startswith("127.0.0.1:") and not started["grpc"].endswith(":0")
    assert started["max_buffered_spans"] == 1_000_000


def test_sigterm_drains_buffered_traces_and_exits_zero(server):
    """Buffered traces are analyzed on SIGTERM, visible in /metrics during the drain; exit code 0."""
    process, started = server
    grpc_port = int(started["grpc"].rsplit(":", 1)[1])
    http_port = int(started["http"].rsplit(":", 1)[1])
    traces = [
        [
            span(1, 0, 0, 40, trace=trace_id(n), service="web", name="GET /"),
            span(2, 1, 5, 30, trace=trace_id(n), service="web", name="query"),
        ]
        for n in range(1, 6)
    ]
    send_traces(traces, endpoint=f"127.0.0.1:{grpc_port}")
    assert metric(http_port, "streamproc_buffered_spans") == 10
    assert metric(http_port, "trace_total", service="web", operation="GET /") == 0

    process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while metric(http_port, "trace_total", service="web", operation="GET /") != 5:
        assert time.monotonic() < deadline, "drained traces never appeared in /metrics"
        time.sleep(0.05)
    assert metric(http_port, "streamproc_traces_completed_total", reason="shutdown") == 5
    assert status(http_port, "/readyz") == 503
    with pytest.raises(SendError, match="UNAVAILABLE: streamproc is shutting down"):
        send_traces([traces[0]], endpoint=f"127.0.0.1:{grpc_port}", max_retries=0)
    assert process.wait(timeout=15) == 0
    lines = [json.loads(line) for line in process.stderr.read().splitlines() if line.startswith("{")]
    stopped = next(line for line in lines if line["event"] == "streamproc_stopped")
    assert (stopped["drained_traces"], stopped["spans_received"], stopped["traces_analyzed"]) == (5, 10, 5)
