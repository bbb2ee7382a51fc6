"""Helpers for live tests: a real Service on free loopback ports, and reading its /metrics and report."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from typing import Any

import msgspec
from prometheus_client.parser import text_string_to_metric_families

from streamproc.analyze.sketch import EXACT_LIMIT
from streamproc.live.service import Service
from streamproc.live.settings import Settings

FAST = {
    "grpc_listen": "127.0.0.1:0",
    "http_listen": "127.0.0.1:0",
    "http_otlp_listen": "127.0.0.1:0",
    "root_grace": 0.2,
    "idle_timeout": 0.5,
    "tick_interval": 0.01,
    "log_format": "json",
    "log_level": "error",
    "workers": 1,  # one process; tests/test_workers.py runs the pool
}


def start_service(**overrides: Any) -> Service:
    service = Service(Settings(**{**FAST, **overrides}))
    service.start()
    return service


def http_get(service: Service, path: str, accept: str = "") -> tuple[int, str, bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{service.http.port}{path}", headers={"Accept": accept}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def samples(service: Service) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics, parsed with prometheus_client's parser: (name, labels) -> value."""
    _, _, body = http_get(service, "/metrics")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def wait_for(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def report(service: Service, query: str = "window=1h") -> dict[str, Any]:
    status, _, body = http_get(service, f"/api/report?{query}")
    assert status == 200, body
    result: dict[str, Any] = msgspec.json.decode(body)
    return result


def assert_report_equals_batch(live: dict[str, Any], batch: dict[str, Any], traces: int) -> None:
    """Every count, list and percentile of the live report equals the batch report's (a window of fewer
    than EXACT_LIMIT traces keeps every duration)."""
    assert live.pop("window")["complete"] is True
    live_stats = live["summary"].pop("duration_stats")
    batch_stats = batch["summary"].pop("duration_stats")
    assert batch.pop("filters").pop("input_traces") == traces
    assert live.pop("filters") == {
        "time_range": None,
        "since": None,
        "until": None,
        "latency_threshold_ms": None,
        "service": None,
        "errors_only": False,
    }
    assert live == batch
    assert traces < EXACT_LIMIT
    assert live_stats == batch_stats
