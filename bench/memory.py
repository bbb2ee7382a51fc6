"""Memory per buffered span: 1,000,000 spans held in a TraceAssembler (traces not yet complete).

Run as its own process so that RSS growth is this measurement's alone. Prints JSON."""

from __future__ import annotations

import gc
import json
import resource
import tracemalloc

from streamproc.assembler import AssemblerLimits, TraceAssembler
from streamproc.generate import Scenario, generate

TARGET_SPANS = 1_000_000


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def main() -> None:
    gc.collect()
    assembler = TraceAssembler(AssemblerLimits(max_traces=10**7, max_buffered_spans=10**7))
    before_rss = rss_bytes()
    tracemalloc.start()
    before_traced = tracemalloc.get_traced_memory()[0]
    number, seed = 0, 0
    while assembler.buffered_spans < TARGET_SPANS:
        seed += 1
        for trace in generate(Scenario.INCIDENT, count=2000, seed=seed, start_ns=0, window_ns=10**12):
            spans = trace.spans[: TARGET_SPANS - assembler.buffered_spans]
            assembler.add(spans, now_ns=0)  # no expire(): every trace stays buffered
            number += 1
            if assembler.buffered_spans >= TARGET_SPANS:
                break
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - before_traced
    tracemalloc.stop()
    spans = assembler.buffered_spans
    print(
        json.dumps(
            {
                "spans": spans,
                "traces": assembler.buffered_traces,
                "rss_bytes_per_span": (rss_bytes() - before_rss) / spans,
                "tracemalloc_bytes_per_span": traced / spans,
            }
        )
    )


if __name__ == "__main__":
    main()
