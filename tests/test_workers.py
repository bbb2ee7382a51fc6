"""`serve --workers N`: worker processes own whole traces; every read merges them (DESIGN section 9).

The pool runs real spawned worker processes behind the real receivers; the end-to-end tests run the
`streamproc serve` command itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import msgspec
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Exemplar

from streamproc.buildinfo import expected_build
from streamproc.decode import Format
from streamproc.decode.common import DecodeResult
from streamproc.live.merge import merge_families
from streamproc.live.settings import Settings
from streamproc.live.worker_process import worker_settings
from streamproc.live.workers import WorkerPool
from streamproc.tools.encode import encode, otlp_request
from streamproc.tools.generate import Scenario
from streamproc.tools.send import send_traces
from tests.builders import span, trace_id
from tests.cli import report_json
from tests.live import assert_report_equals_batch, http_get, report, samples, start_service, value, wait_for
from tests.test_http_receiver import JSON, PROTOBUF, post
from tests.test_receiver import export


def _total(found, name):
    return sum(v for (n, _), v in found.items() if n == name)


@pytest.fixture(scope="module")
def pool(scenario_traces):
    """The incident scenario sent into a server with two workers, waited for until every trace is analyzed."""
    traces = scenario_traces[Scenario.INCIDENT]
    service = start_service(workers=2)
    send_traces([t.spans for t in traces], endpoint=f"127.0.0.1:{service.receiver.port}")
    wait_for(lambda: _total(samples(service), "trace_total") == len(traces))
    yield service
    service.shutdown()


def test_two_workers_give_the_batch_report(capsys, pool, scenario_files, scenario_traces):
    """Report windows merged across the workers: the findings of the batch report, exactly."""
    batch = report_json(capsys, scenario_files[Scenario.INCIDENT, Format.JAEGER])
    assert_report_equals_batch(report(pool), batch, len(scenario_traces[Scenario.INCIDENT]))


def test_both_workers_own_traces_and_metrics_are_summed(pool, scenario_traces):
    traces = scenario_traces[Scenario.INCIDENT]
    spans = sum(len(t.spans) for t in traces)
    assert len(pool.pool.pids()) == 2 and all(pool.pool.pids())
    found = samples(pool)
    assert value(found, "streamproc_workers") == 2
    assert value(found, "streamproc_spans_received_total", transport="grpc") == spans
    assert _total(found, "traces_span_metrics_calls_total") == spans
    assert value(found, "streamproc_buffered_spans") == 0
    assert value(found, "streamproc_buffer_limit_spans") == Settings().max_buffered_spans  # halves, summed
    per_worker = [stats.received.get("grpc", 0) for stats in pool.pool.worker_stats()]
    assert sum(per_worker) == spans and min(per_worker) > spans / 4  # the traces are spread


def test_exemplars_and_retained_traces_resolve_across_workers(pool, scenario_traces):
    """Each exemplar on /metrics opens through the Jaeger API, whichever worker holds its trace."""
    _, _, body = http_get(pool, "/metrics", accept="application/openmetrics-text")
    ids = set(re.findall(r'# \{trace_id="([0-9a-f]{32})"\}', body.decode()))
    assert len(ids) >= 5
    for trace_hex in ids:
        status, _, answer = http_get(pool, f"/api/traces/{trace_hex}")
        assert status == 200 and msgspec.json.decode(answer)["data"][0]["traceID"] == trace_hex
    status, _, answer = http_get(pool, "/api/services")
    expected = {s.service for t in scenario_traces[Scenario.INCIDENT] for s in t.spans}
    assert status == 200 and set(msgspec.json.decode(answer)["data"]) == expected
    diagnosis = msgspec.json.decode(http_get(pool, "/api/diagnose?window=1h&baseline=1h")[2])
    assert "diagnosis" in diagnosis


def test_partial_success_and_drops_are_counted_in_the_pool():
    """The receiving process decodes and answers; the worker owning the trace counts the rejected spans."""
    service = start_service(workers=2)
    try:
        request = otlp_request([span(1, 0, 0, 10, trace=trace_id(7)), span(2, 1, 5, 1, trace=trace_id(7))])
        response = export(service, request.SerializeToString())
        assert response.partial_success.rejected_spans == 1
        wait_for(lambda: value(samples(service), "trace_total", service="svc", operation="op1") == 1)
        found = samples(service)
        assert value(found, "streamproc_spans_received_total", transport="grpc") == 2
        assert value(found, "streamproc_spans_dropped_total", reason="end_before_start") == 1
        with pytest.raises(grpc.RpcError) as caught:
            export(service, b"\xff\xfe not a protobuf")
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert value(samples(service), "streamproc_requests_undecodable_total", transport="grpc") == 1
    finally:
        service.shutdown()


def test_otlp_http_json_and_protobuf_reach_the_workers(scenario_traces):
    """OTLP/HTTP into two workers: a JSON body (decoded by the receiving process, sent as batches) and a
    protobuf body (split by trace id) are both analyzed, counted under transport http."""
    service = start_service(workers=2)
    try:
        traces = scenario_traces[Scenario.HEALTHY][:40]
        half = len(traces) // 2
        as_json = encode(traces[:half], Format.OTLP_JSON)
        as_protobuf = otlp_request([s for t in traces[half:] for s in t.spans]).SerializeToString()
        assert post(service, as_json, JSON)[0] == 200
        assert post(service, as_protobuf, PROTOBUF)[0] == 200
        wait_for(lambda: _total(samples(service), "trace_total") == len(traces))
        spans = sum(len(t.spans) for t in traces)
        assert value(samples(service), "streamproc_spans_received_total", transport="http") == spans
    finally:
        service.shutdown()


def test_a_request_one_worker_cannot_decode_is_refused_whole():
    """Two traces owned by different workers, one span's name not UTF-8: INVALID_ARGUMENT, as one process
    answers, and neither worker takes anything in (nothing received, nothing buffered)."""
    service = start_service(workers=2, root_grace=60.0, idle_timeout=60.0)
    try:
        ids = [trace_id(n) for n in range(1, 20)]
        first = ids[0]
        second = next(i for i in ids if hash(i) % 2 != hash(first) % 2)
        request = otlp_request([span(1, 0, 0, 10, trace=first), span(2, 0, 0, 10, trace=second, name="BAD")])
        raw = request.SerializeToString().replace(b"BAD", b"\xff\xfe\xfd")
        with pytest.raises(grpc.RpcError) as caught:
            export(service, raw)
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        good = otlp_request([span(1, 0, 0, 10, trace=first)]).SerializeToString()
        assert export(service, good).partial_success.rejected_spans == 0
        wait_for(lambda: value(samples(service), "streamproc_buffered_spans") == 1)
        found = samples(service)
        assert value(found, "streamproc_spans_received_total", transport="grpc") == 1
        assert value(found, "streamproc_requests_undecodable_total", transport="grpc") == 1
    finally:
        service.shutdown()


def test_a_dead_worker_is_replaced_and_its_spans_counted_as_lost(scenario_traces):
    """SIGKILL one worker holding buffered traces: a new one takes its place, the restart and the spans it
    held are counted, logged once, counters never go down, and new spans flow again."""
    service = start_service(workers=2, root_grace=60.0, idle_timeout=60.0)  # everything stays buffered
    try:
        traces = scenario_traces[Scenario.INCIDENT][:100]
        spans = sum(len(t.spans) for t in traces)
        send_traces([t.spans for t in traces], endpoint=f"127.0.0.1:{service.receiver.port}")
        wait_for(lambda: value(samples(service), "streamproc_buffered_spans") == spans)
        victim = service.pool.pids()[0]
        held = service.pool.worker_stats()[0].assembler.buffered_spans
        assert 0 < held < spans
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: value(samples(service), "streamproc_worker_restarts_total") == 1)
        found = samples(service)
        assert value(found, "streamproc_spans_dropped_total", reason="worker_lost") == held
        assert value(found, "streamproc_buffered_spans") == spans - held
        assert value(found, "streamproc_spans_received_total", transport="grpc") == spans  # not down
        assert len(service.pool.pids()) == 2 and victim not in service.pool.pids()
        more = scenario_traces[Scenario.INCIDENT][100:150]
        send_traces([t.spans for t in more], endpoint=f"127.0.0.1:{service.receiver.port}")
        extra = sum(len(t.spans) for t in more)
        wait_for(lambda: value(samples(service), "streamproc_buffered_spans") == spans - held + extra)
    finally:
        service.shutdown()


def test_drain_takes_in_the_batches_still_in_the_pipes(scenario_traces):
    """Batches sent just before the drain may still sit in a worker's pipe; the drain goes after them (a SYNC
    mark behind them) and every trace sent is analyzed. (The pipes empty fast here: this checks the drain
    path end to end; it did not catch the drain going ahead without the mark in three tries.)"""
    traces = scenario_traces[Scenario.INCIDENT]
    pool = WorkerPool(Settings(root_grace=60.0, idle_timeout=60.0, log_level="error"), 2)
    pool.start()
    try:
        for offset in range(0, len(traces), 10):
            spans = [s for t in traces[offset : offset + 10] for s in t.spans]
            pool.ingest(DecodeResult(spans, []))
        assert pool.drain() == len(traces)
        assert pool.stats().traces_analyzed == len(traces)
    finally:
        pool.close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def _serve(*args: str) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "streamproc.cli", "serve", "--grpc-listen", "127.0.0.1:0", "--http-listen",
        "127.0.0.1:0", "--http-otlp-listen", "127.0.0.1:0", "--log-format", "json", *args,
    ]  # fmt: skip
    return subprocess.Popen(command, stderr=subprocess.PIPE, text=True)


@contextlib.contextmanager
def _serving(*args: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, object]]]:
    """`streamproc serve` with these flags, started; killed on leaving if it is still running."""
    process = _serve(*args)
    try:
        yield process, _started(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def _started(process: subprocess.Popen[str]) -> dict[str, object]:
    assert process.stderr is not None
    for line in process.stderr:
        event = msgspec.json.decode(line)
        if event["event"] == "streamproc_started":
            return event
    raise AssertionError("the server did not start")


def test_sigterm_drains_every_worker_and_leaves_no_process(scenario_traces):
    """`streamproc serve --workers 2`: buffered traces of both workers are analyzed at SIGTERM (those still
    in a worker's pipe too), then the server and every process it started exit."""
    with _serving("--workers", "2", "--root-grace", "60s", "--idle-timeout", "60s") as (process, started):
        assert started["workers"] == 2
        assert started["build"] == expected_build()  # compiled where a C compiler is, unless asked pure
        children = _children(process.pid)
        assert len(children) >= 2  # the workers (and multiprocessing's resource tracker)
        traces = scenario_traces[Scenario.INCIDENT][:60]
        send_traces([t.spans for t in traces], endpoint=str(started["grpc"]))
        process.send_signal(signal.SIGTERM)  # batches may still be in the workers' pipes: drained too
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0
        stopped = [
            e for e in map(msgspec.json.decode, err.splitlines()) if e["event"] == "streamproc_stopped"
        ]
        assert stopped[0]["traces_analyzed"] == len(traces)
        assert stopped[0]["drained_traces"] == len(traces)
        wait_for(lambda: not any(_alive(pid) for pid in children), timeout_s=10)


def test_workers_die_with_a_killed_server():
    """SIGKILL of the server: no worker outlives it (PR_SET_PDEATHSIG, and their pipes' end)."""
    with _serving("--workers", "2") as (process, _started_line):
        children = _children(process.pid)
        assert children
        process.kill()
        process.communicate(timeout=30)
        wait_for(lambda: not any(_alive(pid) for pid in children), timeout_s=10)


def test_worker_count_and_shares():
    assert Settings().worker_count() == len(os.sched_getaffinity(0))
    assert Settings(workers=3).worker_count() == 3
    share = worker_settings(Settings(max_buffered_spans=1_000_000, retained_spans=200_000), 4)
    assert (share.max_buffered_spans, share.retained_spans, share.workers) == (250_000, 50_000, 1)
    assert start_service(workers=1).pool is None or pytest.fail("workers=1 is one process")


def test_histograms_merge_bucket_by_bucket_with_an_exemplar():
    def family(count: float, exemplar: Exemplar | None, service: str = "a") -> Metric:
        metric = Metric("trace_duration_ms", "Trace duration.", "histogram")
        labels = {"service": service}
        metric.add_sample("trace_duration_ms_bucket", {**labels, "le": "100.0"}, count, exemplar=exemplar)
        metric.add_sample("trace_duration_ms_bucket", {**labels, "le": "+Inf"}, count + 1)
        metric.add_sample("trace_duration_ms_count", labels, count + 1)
        metric.add_sample("trace_duration_ms_sum", labels, 10.0 * count)
        return metric

    one = Exemplar({"trace_id": "ab" * 16}, 12.0)
    merged = merge_families([[family(2, one)], [family(3, None), family(1, None, "b")]])
    assert len(merged) == 1
    rows = [
        (s.name, s.labels.get("service"), s.labels.get("le"), s.value, s.exemplar) for s in merged[0].samples
    ]
    assert rows == [
        ("trace_duration_ms_bucket", "a", "100.0", 5, one),
        ("trace_duration_ms_bucket", "a", "+Inf", 7, None),
        ("trace_duration_ms_count", "a", None, 7, None),
        ("trace_duration_ms_sum", "a", None, 50.0, None),
        ("trace_duration_ms_bucket", "b", "100.0", 1, None),
        ("trace_duration_ms_bucket", "b", "+Inf", 2, None),
        ("trace_duration_ms_count", "b", None, 2, None),
        ("trace_duration_ms_sum", "b", None, 10.0, None),
    ]
