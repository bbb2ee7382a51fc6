"""Retained traces and the Jaeger-compatible read API: the store's bound and what it keeps longest, every
exemplar link resolving, the requests Grafana's Jaeger data source sends (replayed as its datasource.ts
builds them: `/api/services`, `/api/services/{s}/operations`, `/api/traces` with `tags` as a JSON object,
`minDuration`, `limit`, `start`/`end` in µs and `lookback=custom`, `/api/traces/{id}`), and
`analyze-traces --jaeger-url` against streamproc giving the batch report of the same traces."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections import Counter

import msgspec
import pytest

from streamproc.analyze.suite import AnalysisOptions, find
from streamproc.analyze.tree import build_tree
from streamproc.decode import Format
from streamproc.errors import UsageError
from streamproc.live.jaeger_api import go_duration_ns
from streamproc.live.retained import RetainedTraces
from streamproc.model import StatusCode
from streamproc.tools.encode import encode, otlp_request
from tests.builders import span, trace, trace_id
from tests.cli import run
from tests.live import http_get, samples, start_service, value, wait_for
from tests.test_http_receiver import PROTOBUF, post, traces

MINUTE_MS = 60_000


def findings(number: int, *, minute: int, duration_ms: float, error: bool = False, spans: int = 1):
    """A trace of `spans` spans starting in minute `minute`, its root lasting `duration_ms`."""
    start = minute * MINUTE_MS
    tid = trace_id(number)
    members = [span(1, 0, start, start + duration_ms, trace=tid, error="boom" if error else None)]
    members += [span(i, 1, start, start + 1, trace=tid) for i in range(2, spans + 1)]
    return find(build_tree(trace(*members)), AnalysisOptions())


def test_the_store_holds_its_bound_and_keeps_the_slowest_and_erroring_longest():
    """Past its bound the store sweeps to three quarters of it: unheld traces go first, then the slowest
    and erroring ones of each minute, then those an exemplar names."""
    pinned: set[str] = set()
    store = RetainedTraces(max_spans=40, errors_per_minute=1, exemplar_trace_ids=lambda: pinned)
    store.observe_trace(findings(1, minute=0, duration_ms=900), 0)  # the slowest of minute 0
    store.observe_trace(findings(2, minute=0, duration_ms=10, error=True), 0)  # its one erroring trace
    store.observe_trace(findings(3, minute=0, duration_ms=10, error=True), 0)  # over errors_per_minute
    pinned.add(trace_id(4).hex())
    store.observe_trace(findings(4, minute=0, duration_ms=10), 0)  # an exemplar names it
    for number in range(5, 45):
        store.observe_trace(findings(number, minute=1, duration_ms=5), 0)
        assert store.state().spans <= 40
    kept = {entry.trace.trace_id for entry in store.snapshot()}
    assert {trace_id(1), trace_id(2), trace_id(4)} <= kept
    assert trace_id(5) in kept  # the first of minute 1, as slow as any after it
    assert trace_id(3) not in kept and trace_id(6) not in kept
    state = store.state()
    assert state.evicted["none"] > 0 and "kept" not in state.evicted and "exemplar" not in state.evicted


def test_when_held_traces_alone_pass_the_bound_the_oldest_held_go():
    """Every trace the slowest of its own minute: the bound wins, oldest first, and the sweeps say so."""
    store = RetainedTraces(max_spans=20)
    for number in range(1, 61):
        store.observe_trace(findings(number, minute=number, duration_ms=5, spans=2), 0)
        assert store.state().spans <= 20
    kept = sorted(int.from_bytes(e.trace.trace_id, "big") for e in store.snapshot())
    assert kept == list(range(61 - len(kept), 61))
    assert store.state().evicted["kept"] == 60 - len(kept)


def test_a_trace_larger_than_the_store_is_counted_not_kept():
    store = RetainedTraces(max_spans=3)
    store.observe_trace(findings(1, minute=0, duration_ms=5, spans=4), 0)
    assert (store.state().traces, store.state().too_large) == (0, 1)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("100ms", 100_000_000),
        ("1.5s", 1_500_000_000),
        ("250us", 250_000),
        ("250µs", 250_000),
        ("1m30s", 90e9),
    ],
)
def test_go_durations(text, ns):
    assert go_duration_ns(text, "minDuration") == ns


@pytest.mark.parametrize("text", ["", "1", "ms", "1x", "1.5", "-1s", "1 s"])
def test_bad_go_durations(text):
    with pytest.raises(UsageError, match="minDuration"):
        go_duration_ns(text, "minDuration")


@pytest.fixture(scope="module")
def sent():
    """A server holding 60 incident traces, sent over OTLP/HTTP, and the traces."""
    service = start_service(retained_spans=1_000_000)
    sent_traces = traces(60, seed=11)
    status, _, body = post(
        service, otlp_request([s for t in sent_traces for s in t.spans]).SerializeToString(), PROTOBUF
    )
    assert status == 200, body
    wait_for(
        lambda: value(samples(service), "trace_total", service="api-gateway", operation="GET /api/home") == 60
    )
    yield service, sent_traces
    service.shutdown()


def jaeger_get(server, path: str, **params: str) -> tuple[int, dict]:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    status, content_type, body = http_get(server, path + query)
    assert content_type == "application/json"
    return status, msgspec.json.decode(body)


def test_grafana_data_source_requests(sent):
    """The data source's test, its search form and its trace view, as it sends them."""
    service, sent_traces = sent
    status, answer = jaeger_get(service, "/api/services")
    expected_services = sorted({s.service for t in sent_traces for s in t.spans})
    assert (status, answer["data"], answer["errors"]) == (200, expected_services, None)

    status, answer = jaeger_get(service, "/api/services/user-service/operations")
    assert answer["data"] == sorted(
        {s.name for t in sent_traces for s in t.spans if s.service == "user-service"}
    )

    slow = [
        t for t in sent_traces if any(s.service == "user-service" and s.duration_ns >= 200e6 for s in t.spans)
    ]
    assert 0 < len(slow) < len(sent_traces)
    start_us = min(s.start_ns for t in sent_traces for s in t.spans) // 1000
    status, answer = jaeger_get(
        service,
        "/api/traces",
        service="user-service",
        minDuration="200ms",
        limit="1000",
        start=str(start_us),
        end=str(start_us + 3600 * 10**6),
        lookback="custom",
    )
    assert status == 200
    assert sorted(t["traceID"] for t in answer["data"]) == sorted(t.trace_id.hex() for t in slow)
    status, answer = jaeger_get(
        service, "/api/traces", service="user-service", minDuration="200ms", limit="3"
    )
    assert len(answer["data"]) == 3

    failing = Counter(s.service for t in sent_traces for s in t.spans if s.status is StatusCode.ERROR)
    ((culprit, _),) = failing.most_common(1)
    erroring = [
        t for t in sent_traces if any(s.service == culprit and s.status is StatusCode.ERROR for s in t.spans)
    ]
    status, answer = jaeger_get(service, "/api/traces", service=culprit, tags=json.dumps({"error": True}))
    assert sorted(t["traceID"] for t in answer["data"]) == sorted(t.trace_id.hex() for t in erroring)

    wanted = erroring[0]
    status, answer = jaeger_get(service, f"/api/traces/{wanted.trace_id.hex()}")
    (got,) = answer["data"]
    assert len(got["spans"]) == len(wanted.spans)
    assert {p["serviceName"] for p in got["processes"].values()} == {s.service for s in wanted.spans}

    status, answer = jaeger_get(service, "/api/operations", service="api-gateway", spanKind="server")
    assert answer["data"] == [{"name": "GET /api/home", "spanKind": "server"}]


def test_dependencies_come_from_the_live_service_graph(sent):
    service, _ = sent
    status, answer = jaeger_get(service, "/api/dependencies", endTs="0", lookback="3600000")
    assert status == 200
    links = {(d["parent"], d["child"]): d["callCount"] for d in answer["data"]}
    assert links[("api-gateway", "user-service")] == 60


@pytest.mark.parametrize(
    ("path", "params", "problem"),
    [
        ("/api/traces", {}, "parameter 'service' is required"),
        ("/api/traces", {"service": "x", "limit": "-1"}, "limit"),
        ("/api/traces", {"service": "x", "limit": "1000001"}, "out of range"),
        ("/api/traces", {"service": "x", "minDuration": "fast"}, "minDuration"),
        ("/api/traces", {"service": "x", "minDuration": "2s", "maxDuration": "1s"}, "greater than"),
        ("/api/traces", {"service": "x", "start": "tomorrow"}, "start"),
        ("/api/traces", {"service": "x", "start": "20", "end": "10"}, "after end"),
        ("/api/traces", {"service": "x", "tags": "error=true"}, "JSON object"),
        ("/api/traces", {"service": "x", "tag": "error"}, "key:value"),
        ("/api/traces", {"service": "x", "color": "red"}, "unknown parameter"),
        ("/api/traces/not-hex", {}, "hex"),
        ("/api/traces/" + "a" * 33, {}, "hex"),
        ("/api/operations", {}, "parameter 'service' is required"),
        ("/api/operations", {"service": "x", "spanKind": "sideways"}, "spanKind"),
        ("/api/dependencies", {"lookback": "1h"}, "lookback"),
    ],
)
def test_bad_requests_get_400_in_jaeger_envelope(sent, path, params, problem):
    service, _ = sent
    status, answer = jaeger_get(service, path, **params)
    assert status == 400
    assert answer["data"] is None and answer["errors"][0]["code"] == 400
    assert problem in answer["errors"][0]["msg"]


def test_an_unknown_trace_is_404(sent):
    service, _ = sent
    status, answer = jaeger_get(service, "/api/traces/" + "ab" * 16)
    assert status == 404 and answer["errors"][0]["code"] == 404
    assert jaeger_get(service, "/api/traces/" + "00" * 16)[0] == 404


def test_analyze_traces_round_trips_through_streamproc(sent, capsys, tmp_path):
    """--jaeger-url against streamproc's own API: the report equals the batch report of the sent traces."""
    service, sent_traces = sent
    path = tmp_path / "sent.json"
    path.write_bytes(encode(sent_traces, Format.JAEGER))
    url = f"http://127.0.0.1:{service.http.port}"
    code, fetched, err = run(
        capsys,
        "--jaeger-url",
        url,
        "--service",
        "api-gateway",
        "--lookback",
        "3650d",
        "--limit",
        "1000",
        "--json",
    )
    assert code == 0, err
    code, batch, err = run(capsys, path, "--service", "api-gateway", "--json")
    assert code == 0, err
    assert msgspec.json.decode(fetched)["summary"]["trace_count"] == 60
    assert fetched == batch


def test_every_exemplar_resolves_while_the_store_sweeps():
    """A store far smaller than the traffic: /metrics shows only exemplars whose trace is retained, and each
    one opens with /api/traces/{id}; the store stays in its bound and counts what it swept."""
    service = start_service(retained_spans=400)
    try:
        sent_traces = traces(300, seed=5)
        for offset in range(0, 300, 50):
            batch = [s for t in sent_traces[offset : offset + 50] for s in t.spans]
            assert post(service, otlp_request(batch).SerializeToString(), PROTOBUF)[0] == 200
        wait_for(lambda: value(samples(service), "streamproc_retained_evicted_traces_total", held="none") > 0)
        wait_for(lambda: sum(v for (n, _), v in samples(service).items() if n == "trace_total") == 300)
        _, _, body = http_get(service, "/metrics", accept="application/openmetrics-text")
        ids = set(re.findall(r'# \{trace_id="([0-9a-f]{32})"\}', body.decode()))
        assert len(ids) >= 5
        for trace_hex in ids:
            assert jaeger_get(service, f"/api/traces/{trace_hex}")[0] == 200, trace_hex
        found = samples(service)
        assert 0 < value(found, "streamproc_retained_spans") <= 400
        assert value(found, "streamproc_retained_limit_spans") == 400
    finally:
        service.shutdown()


def test_without_a_store_exemplars_are_shown_unchecked_and_the_api_finds_nothing():
    """retained_spans = 0: exemplars name traces for a trace store beside streamproc."""
    service = start_service(retained_spans=0)
    try:
        sent_traces = traces(10, seed=2)
        assert (
            post(
                service, otlp_request([s for t in sent_traces for s in t.spans]).SerializeToString(), PROTOBUF
            )[0]
            == 200
        )
        wait_for(lambda: sum(v for (n, _), v in samples(service).items() if n == "trace_total") == 10)
        _, _, body = http_get(service, "/metrics", accept="application/openmetrics-text")
        assert re.search(r'# \{trace_id="[0-9a-f]{32}"\}', body.decode())
        assert jaeger_get(service, "/api/services")[1]["data"] == []
        assert jaeger_get(service, f"/api/traces/{sent_traces[0].trace_id.hex()}")[0] == 404
    finally:
        service.shutdown()
