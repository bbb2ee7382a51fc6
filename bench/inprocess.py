"""The live path without the network, for profiling: decode + assemble + analyze + metrics in one thread.

`python -m bench.inprocess [--passes N] [--profile] [--decoder wire|runtime]` feeds the bench load's
requests to a LivePipeline driven by a fake clock (every trace completes on its root grace), and prints
microseconds per span for decoding the request bytes (as the receivers do: `otlp_wire` when compiled, the
protobuf runtime's parse read by `otlp_proto` when pure) and for the pipeline. The figures are the CPU cost
of one span with no gRPC or thread switching; `make bench` measures the real server.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import time
from collections.abc import Callable

from bench.load import build_requests
from streamproc.decode.common import DecodeResult
from streamproc.decode.otlp_request import DECODER, decode_with_runtime
from streamproc.decode.otlp_wire import decode_export_bytes
from streamproc.live.analysis import LiveAnalysis
from streamproc.live.settings import Settings
from streamproc.units import NS_PER_S as _NS

DECODERS: dict[str, Callable[[bytes], DecodeResult]] = {
    "wire": decode_export_bytes,
    "runtime": decode_with_runtime,
}


def run(passes: int, traces_per_pass: int, decoder: str = DECODER) -> dict[str, float]:
    requests = [r.payload for p in build_requests(traces_per_pass=traces_per_pass, passes=passes) for r in p]
    clock = [0]
    pipeline = LiveAnalysis.from_settings(
        Settings(), monotonic=lambda: clock[0], wall=lambda: 1_767_225_600 * _NS + clock[0]
    ).pipeline
    decode = DECODERS[decoder]
    start = time.process_time()
    decoded = [decode(r) for r in requests]
    decode_s = time.process_time() - start
    spans = sum(len(d.spans) for d in decoded)
    start = time.process_time()
    for result in decoded:
        pipeline.ingest(result)
        clock[0] += 10_000_000  # 10 ms a request
        pipeline.tick()
    clock[0] += 3_600 * _NS
    pipeline.tick()
    pipeline_s = time.process_time() - start
    stats = pipeline.stats()
    if stats.spans_received != spans or stats.assembler.buffered_spans:
        raise RuntimeError("the pipeline did not analyze every span it was given")
    return {
        "spans": spans,
        "traces": stats.traces_analyzed,
        "decode_us_per_span": decode_s / spans * 1e6,
        "pipeline_us_per_span": pipeline_s / spans * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--traces-per-pass", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best of each figure is printed")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument(
        "--decoder", choices=sorted(DECODERS), default="wire", help="how requests are decoded"
    )
    args = parser.parse_args()
    gc.freeze()
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        result = run(args.passes, args.traces_per_pass, args.decoder)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    else:  # the best of several runs: this machine's neighbours add noise, never speed
        runs = [run(args.passes, args.traces_per_pass, args.decoder) for _ in range(args.repeat)]
        result = {key: min(r[key] for r in runs) for key in runs[0]}
    print(", ".join(f"{k} {v:,.2f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in result.items()))


if __name__ == "__main__":
    main()
