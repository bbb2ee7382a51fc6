"""Replaying a scenario into the live server gives the findings of the batch report; /api/report queries."""

from __future__ import annotations

import msgspec
import pytest

from streamproc.analyze.sketch import EXACT_LIMIT
from streamproc.decode import Format
from streamproc.tools.generate import Scenario
from streamproc.tools.send import send_traces
from tests.cli import report_json
from tests.live import http_get, report, samples, start_service, value, wait_for


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
    live = report(replayed)
    assert live.pop("window")["complete"] is True
    live_stats = live["summary"].pop("duration_stats")
    batch_stats = batch["summary"].pop("duration_stats")
    assert batch.pop("filters").pop("input_traces") == len(scenario_traces[Scenario.INCIDENT])
    assert live.pop("filters") == {
        "time_range": None,
        "since": None,
        "until": None,
        "latency_threshold_ms": None,
        "service": None,
        "errors_only": False,
    }
    assert live == batch
    assert len(scenario_traces[Scenario.INCIDENT]) < EXACT_LIMIT
    assert live_stats == batch_stats


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
