"""The load generator: pre-serialized ExportTraceServiceRequests of the incident scenario, 512 spans a
request, each request one service's spans of many traces (as an SDK's batch processor sends them), new
trace ids on every pass (a resent trace would be late, not new), several concurrent streams."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse as PB2ExportTraceServiceResponse,
)

from streamproc.model import Span
from streamproc.tools.encode import otlp_request
from streamproc.tools.generate import Scenario, generate

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
SPANS_PER_REQUEST = 512


@dataclass(frozen=True, slots=True)
class Request:
    payload: bytes
    spans: int


def build_requests(*, traces_per_pass: int, passes: int, seed: int = 1) -> list[list[Request]]:
    """`passes` lists of requests; each pass repeats the scenario under new trace ids."""
    base = generate(
        Scenario.INCIDENT,
        count=traces_per_pass,
        seed=seed,
        start_ns=1_767_225_600 * 10**9,
        window_ns=600 * 10**9,
    )
    by_service: dict[str, list[Span]] = {}
    for trace in base:
        for span in trace.spans:
            by_service.setdefault(span.service, []).append(span)
    # Encode once; each pass only rewrites the trace ids (first 4 bytes: the pass number) and serializes.
    per_service = []
    for spans in by_service.values():
        per_service.append(
            [otlp_request(spans[o : o + SPANS_PER_REQUEST]) for o in range(0, len(spans), SPANS_PER_REQUEST)]
        )
    # Interleave services as concurrent SDKs would: request i of each service in turn.
    base = [r for group in itertools.zip_longest(*per_service) for r in group if r is not None]
    originals = [
        [span.trace_id for rs in r.resource_spans for ss in rs.scope_spans for span in ss.spans] for r in base
    ]
    result = []
    for number in range(passes):
        prefix = number.to_bytes(4, "big")
        requests = []
        for request, trace_ids in zip(base, originals, strict=True):
            pb_spans = [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
            for span, trace_id in zip(pb_spans, trace_ids, strict=True):
                span.trace_id = prefix + trace_id[4:]
            requests.append(Request(request.SerializeToString(), len(pb_spans)))
        result.append(requests)
    return result


@dataclass(slots=True)
class LoadResult:
    spans: int
    requests: int
    seconds: float
    errors: int


def run_load(
    endpoint: str, passes: list[list[Request]], *, streams: int, duration_s: float, rate: float | None = None
) -> LoadResult:
    """Send the passes in order over `streams` concurrent channels until done or `duration_s` is up."""
    queue = [request for requests in passes for request in requests]
    lock = threading.Lock()
    position = [0]
    sent = [0, 0, 0]  # spans, requests, errors
    started = time.monotonic()

    scheduled = [0]  # spans handed to workers so far, for pacing

    def worker() -> None:
        with grpc.insecure_channel(endpoint) as channel:
            call = channel.unary_unary(EXPORT, response_deserializer=PB2ExportTraceServiceResponse.FromString)
            while time.monotonic() - started < duration_s:
                with lock:
                    if position[0] >= len(queue):
                        return
                    request = queue[position[0]]
                    position[0] += 1
                    due = scheduled[0] / rate if rate else 0.0
                    scheduled[0] += request.spans
                wait = started + due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                try:
                    call(request.payload, timeout=30)
                except grpc.RpcError:
                    with lock:
                        sent[2] += 1
                    continue
                with lock:
                    sent[0] += request.spans
                    sent[1] += 1

    threads = [threading.Thread(target=worker) for _ in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(sent[0], sent[1], time.monotonic() - started, sent[2])
