"""Overload: `streamproc serve` on its defaults offered three times what it sustains, for a minute.

`python -m bench.overload [--rate SPANS_PER_S] [--duration 60]` (also a step of `make bench`) sends the
bench load paced at `rate` over many streams, each call with a 5 s deadline as OTLP exporters set, and
reports how calls ended (OK, UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED), the server's peak RSS
(its workers' included), and whether its accounting is exact once it has drained: received = analyzed +
dropped + buffered, where analyzed is counted independently (spanmetrics' calls: every analyzed span once).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from pathlib import Path

import grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse as PB2ExportTraceServiceResponse,
)

from bench.__main__ import _children, free_port, metric_sum, start_streamproc, stop
from bench.load import EXPORT, build_requests

DEADLINE_S = 5.0


def offer(
    endpoint: str, payloads: list[tuple[bytes, int]], *, rate: float, duration_s: float, streams: int
) -> dict:
    """Send `payloads` in turn, paced at `rate` spans/s, until `duration_s`: how each call ended."""
    lock = threading.Lock()
    position = [0]
    scheduled = [0]
    outcomes: Counter[str] = Counter()
    spans_ok = [0]
    started = time.monotonic()

    def worker() -> None:
        with grpc.insecure_channel(endpoint) as channel:
            call = channel.unary_unary(EXPORT, response_deserializer=PB2ExportTraceServiceResponse.FromString)
            while time.monotonic() - started < duration_s:
                with lock:
                    payload, spans = payloads[position[0] % len(payloads)]
                    position[0] += 1
                    due = scheduled[0] / rate
                    scheduled[0] += spans
                wait = started + due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                try:
                    call(payload, timeout=DEADLINE_S)
                    code = "OK"
                except grpc.RpcError as exc:
                    code = exc.code().name
                with lock:
                    outcomes[code] += 1
                    if code == "OK":
                        spans_ok[0] += spans

    threads = [threading.Thread(target=worker) for _ in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    return {
        "calls": dict(outcomes),
        "spans_acknowledged": spans_ok[0],
        "seconds": seconds,
        "offered_spans": scheduled[0],
    }


def peak_rss_bytes(pid: int) -> int:
    """The peak RSS of the server and of its worker processes, summed (each its own peak)."""
    return sum(_peak(p) for p in (pid, *_children(pid)))


def _peak(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def run(rate: float, duration_s: float, streams: int = 128) -> dict:
    passes = build_requests(traces_per_pass=5000, passes=20, seed=7)
    payloads = [(request.payload, request.spans) for requests in passes for request in requests]
    grpc_port, http_port = free_port(), free_port()
    server = start_streamproc(grpc_port, http_port)
    try:
        result = offer(f"127.0.0.1:{grpc_port}", payloads, rate=rate, duration_s=duration_s, streams=streams)
        deadline = time.monotonic() + 120
        while metric_sum(http_port, "streamproc_buffered_spans") > 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        received = metric_sum(http_port, "streamproc_spans_received_total")
        analyzed = metric_sum(http_port, "traces_span_metrics_calls_total")
        dropped = metric_sum(http_port, "streamproc_spans_dropped_total")
        buffered = metric_sum(http_port, "streamproc_buffered_spans")
        refused = metric_sum(http_port, "streamproc_spans_refused_total")
        result.update(
            rate=rate,
            received=received,
            analyzed=analyzed,
            dropped=dropped,
            buffered=buffered,
            refused=refused,
            accounting_exact=received == analyzed + dropped + buffered,
            peak_rss_bytes=peak_rss_bytes(server.pid),
        )
    finally:
        stop(server)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.overload", description=__doc__)
    parser.add_argument(
        "--rate", type=float, default=3 * 58_000, help="offered spans/s (3x the sustained rate)"
    )
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args()
    print(json.dumps(run(args.rate, args.duration), indent=2))


if __name__ == "__main__":
    main()
