"""Memory per buffered span: 1,000,000 spans held in a TraceAssembler (traces not yet complete).

The spans are what the server buffers: decoded from the bench load's serialized
`ExportTraceServiceRequest`s (built before the baseline is taken), one request at a time, exactly as the
receiver decodes them. Two measurements, each in a process of its own so that it is that measurement's
alone: RSS growth (`--rss`), and tracemalloc's traced memory (`--traced`); tracemalloc's own bookkeeping
(tens of bytes per allocation) would otherwise be counted in the RSS. Prints JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tracemalloc

from bench.load import build_requests
from streamproc.decode.otlp_wire import decode_export_bytes
from streamproc.live.assembler import AssemblerLimits, TraceAssembler

TARGET_SPANS = 1_000_000
TRACES_PER_PASS = 5_000


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def fill(traced: bool) -> dict[str, float]:
    requests = []
    passes = build_requests(
        traces_per_pass=TRACES_PER_PASS, passes=1 + TARGET_SPANS // (12 * TRACES_PER_PASS)
    )
    for requests_of_pass in passes:
        requests.extend(r.payload for r in requests_of_pass)
    del passes
    assembler = TraceAssembler(AssemblerLimits(max_traces=10**7, max_buffered_spans=10**7))
    gc.collect()
    before = rss_bytes()
    if traced:
        tracemalloc.start()
    for payload in requests:
        spans = decode_export_bytes(payload).spans
        assembler.add(spans[: TARGET_SPANS - assembler.buffered_spans], now_ns=0)  # no expire(): all stay
        if assembler.buffered_spans >= TARGET_SPANS:
            break
    gc.collect()
    spans = assembler.buffered_spans
    result = {"spans": spans, "traces": assembler.buffered_traces}
    if traced:
        result["tracemalloc_bytes_per_span"] = tracemalloc.get_traced_memory()[0] / spans
        tracemalloc.stop()
    else:
        result["rss_bytes_per_span"] = (rss_bytes() - before) / spans
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--rss", action="store_true", help="only the RSS measurement, in this process")
    parser.add_argument("--traced", action="store_true", help="only the tracemalloc one, in this process")
    args = parser.parse_args()
    if args.rss or args.traced:
        print(json.dumps(fill(traced=args.traced)))
        return
    result: dict[str, float] = {}
    for flag in ("--rss", "--traced"):
        run = subprocess.run(
            [sys.executable, "-m", "bench.memory", flag], capture_output=True, text=True, check=True
        )
        result.update(json.loads(run.stdout))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
