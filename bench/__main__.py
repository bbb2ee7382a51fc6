"""make bench: one invocation, bounded in time, on loopback; prints one table and writes a JSON file.

1. ingest throughput: the same load into (a) a null receiver and (b) streamproc serve with every analyzer
   (defaults: a worker process per CPU), then with --workers 1, 2 and 4;
2. memory per buffered span at 1,000,000 buffered spans;
3. completion latency at half the measured maximum rate, against root_grace;
4. batch analyze of a 100,000-trace Jaeger file against parsing it with the fastest JSON parser installed,
   and the HTML report of it: its size and the time to draw it against the analysis.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bench.load import LoadResult, build_requests, run_load
from streamproc.tools.encode import otlp_request
from streamproc.tools.generate import Scenario, generate

BUILD = Path("build")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time of the process and of the live processes it started (serve's workers)."""
    return sum(_own_cpu(p) for p in (pid, *_children(pid)))


def _own_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def _children(pid: int) -> list[int]:
    """The live processes `pid` started (serve's workers, multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def scrape(http_port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10) as response:
        return str(response.read().decode())


def metric_sum(http_port: int, name: str, *, body: str | None = None, **labels: str) -> float:
    """The sum of a metric's samples with these labels, from `body` or a fresh scrape."""
    if body is None:
        body = scrape(http_port)
    return sum(
        s.value
        for f in text_string_to_metric_families(body)
        for s in f.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def start_streamproc(grpc_port: int, http_port: int, workers: int | None = None) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamproc.cli",
            "serve",
            "--grpc-listen",
            f"127.0.0.1:{grpc_port}",
            "--http-listen",
            f"127.0.0.1:{http_port}",
            "--http-otlp-listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--log-level",
            "warning",
            *(["--workers", str(workers)] if workers is not None else []),
        ]
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            metric_sum(http_port, "trace_total")
            return process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("streamproc did not start")


def analyzed_spans(http_port: int) -> float:
    """Spans streamproc has analyzed: received, less those still buffered and those dropped."""
    body = scrape(http_port)
    return (
        metric_sum(http_port, "streamproc_spans_received_total", body=body)
        - metric_sum(http_port, "streamproc_buffered_spans", body=body)
        - metric_sum(http_port, "streamproc_spans_dropped_total", body=body)
    )


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=30)


def ingest_streamproc(passes, *, streams: int, duration_s: float, workers: int | None = None) -> dict:
    """streamproc serve, every analyzer on (defaults, or `--workers`). Sustained: spans analyzed per second
    between 2 s into the load (the buffer filled to its steady level) and the load's end, from streamproc's
    own counters; also until every sent trace has been analyzed (wall clock from the first request). CPU:
    the server's and its workers'."""
    spans_per_pass = sum(r.spans for r in passes[0])
    grpc_port, http_port = free_port(), free_port()
    server = start_streamproc(grpc_port, http_port, workers)
    cpu0 = cpu_seconds(server.pid)
    server_cpu0 = _own_cpu(server.pid)
    started = time.monotonic()
    loads: list[LoadResult] = []
    sender = threading.Thread(
        target=lambda: loads.append(
            run_load(f"127.0.0.1:{grpc_port}", passes, streams=streams, duration_s=duration_s)
        )
    )
    sender.start()
    time.sleep(2)
    first = (time.monotonic(), analyzed_spans(http_port))
    sender.join(timeout=duration_s - 2.5)
    last = (time.monotonic(), analyzed_spans(http_port))
    sender.join()
    load = loads[0]
    while metric_sum(http_port, "streamproc_buffered_spans") > 0:
        time.sleep(0.05)
    seconds = time.monotonic() - started
    cpu = cpu_seconds(server.pid) - cpu0
    server_cpu = _own_cpu(server.pid) - server_cpu0
    analyzed = metric_sum(http_port, "trace_total")
    processes = metric_sum(http_port, "streamproc_workers")
    stop(server)
    return {
        "workers": processes,
        "spans": load.spans,
        "sustained_spans_per_s": (last[1] - first[1]) / (last[0] - first[0]),
        "seconds": seconds,
        "spans_per_s": load.spans / seconds,
        "cpu_s_per_million": cpu / load.spans * 1e6,
        "server_cpu_s_per_million": server_cpu / load.spans * 1e6,  # the receiving process
        "workers_cpu_s_per_million": (cpu - server_cpu) / load.spans * 1e6,  # its worker processes
        "errors": load.errors,
        "traces_analyzed": analyzed,
        "spans_per_pass": spans_per_pass,
        "ingest_only_seconds": load.seconds,
    }


def ingest(passes, *, streams: int, duration_s: float) -> dict:
    results = {}
    # (a) the null receiver
    port = free_port()
    null = subprocess.Popen(
        [sys.executable, "-m", "bench.null_receiver", "--port", str(port)], stdout=subprocess.PIPE, text=True
    )
    null.stdout.readline()
    cpu0 = cpu_seconds(null.pid)
    load = run_load(f"127.0.0.1:{port}", passes, streams=streams, duration_s=duration_s)
    cpu = cpu_seconds(null.pid) - cpu0
    stop(null)
    results["null"] = {
        "spans": load.spans,
        "seconds": load.seconds,
        "spans_per_s": load.spans / load.seconds,
        "cpu_s_per_million": cpu / load.spans * 1e6,
        "errors": load.errors,
    }
    results["streamproc"] = ingest_streamproc(passes, streams=streams, duration_s=duration_s)
    results["ratio"] = results["streamproc"]["sustained_spans_per_s"] / results["null"]["spans_per_s"]
    return results


def completion_latency(passes, rate: float, *, probes: int = 100, root_grace_s: float = 1.0) -> dict:
    """Probe traces sent while background load runs at `rate`: time until each is counted in /metrics.

    One probe every 100 ms, so that they overlap and a p99 is the 99th of 100 values rather than the
    slowest of a few. They share one root service (a series per probe would grow the exposition the poller
    reads); with equal root graces they complete in the order sent, so the n-th increment of the probes'
    `trace_total` is the n-th probe. A poller scrapes /metrics every 10 ms.
    """
    import grpc

    grpc_port, http_port = free_port(), free_port()
    server = start_streamproc(grpc_port, http_port)
    background = threading.Thread(
        target=run_load,
        args=(f"127.0.0.1:{grpc_port}", passes),
        kwargs={"streams": 2, "duration_s": probes * 0.1 + root_grace_s + 10, "rate": rate},
        daemon=True,
    )
    background.start()
    time.sleep(2)
    payloads = []
    for number in range(probes):
        trace = generate(Scenario.HEALTHY, count=1, seed=10_000 + number, start_ns=0, window_ns=1)[0]
        payloads.append(
            otlp_request([s._replace(service="bench-probe") for s in trace.spans]).SerializeToString()
        )
    sent: list[float] = []
    seen: list[float] = []

    def send() -> None:
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            call = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
            for payload in payloads:
                call(payload, timeout=10)
                sent.append(time.monotonic())
                time.sleep(0.1)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    deadline = time.monotonic() + probes * 0.1 + root_grace_s + 30
    while len(seen) < probes and time.monotonic() < deadline:
        body = scrape(http_port)
        arrived = time.monotonic()  # when the answer came; parsing it is the bench's cost, not streamproc's
        counted = int(metric_sum(http_port, "trace_total", body=body, service="bench-probe"))
        seen.extend([arrived] * (counted - len(seen)))
        time.sleep(0.01)
    sender.join()
    stop(server)
    if len(seen) < probes:
        raise RuntimeError(f"only {len(seen)} of {probes} probe traces appeared in /metrics")
    latencies = sorted(done - start for start, done in zip(sent, seen, strict=True))
    return {
        "rate_spans_per_s": rate,
        "probes": probes,
        "root_grace_s": root_grace_s,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


# JSON parsers that build Python objects: the fastest one installed is the parse-only baseline.
PARSERS = {"msgspec": "msgspec.json.decode", "orjson": "orjson.loads"}


PARSE_RUNS = 3


def _parse_only(name: str, path: Path) -> tuple[float, int]:
    """Seconds to parse the file into Python objects with `name` (cyclic GC paused), and its span count.

    The best of PARSE_RUNS fresh processes: the bare parse is mostly first-touching gigabytes of fresh
    memory, whose cost this kind of VM varies by 2x; the fastest run is the hardest baseline to meet.
    """
    code = (
        f"import gc,time,sys,{name}; d=open(sys.argv[1],'rb').read(); gc.disable(); "
        f"t=time.perf_counter(); doc={PARSERS[name]}(d); "
        "print(time.perf_counter()-t, sum(len(t['spans']) for t in doc['data']))"
    )
    runs = []
    for _ in range(PARSE_RUNS):
        out = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
        )
        runs.append((float(out.stdout.split()[0]), int(out.stdout.split()[1])))
    return min(runs)


def batch(traces: int) -> dict:
    path = BUILD / f"bench-{traces}.jaeger.json"
    if not path.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "streamproc.cli",
                "generate",
                "--count",
                str(traces),
                "--seed",
                "1",
                "-o",
                str(path),
            ],
            check=True,
        )
    size = path.stat().st_size
    timings = {name: _parse_only(name, path) for name in PARSERS if importlib.util.find_spec(name)}
    parser = min(timings, key=lambda name: timings[name][0])
    parse_s, spans = timings[parser]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    report_path = BUILD / "bench-report.json"
    subprocess.run(
        [sys.executable, "-m", "streamproc.cli", "analyze", str(path), "--json", "-o", str(report_path)],
        check=True,
        capture_output=True,
    )
    analyze_s = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the command and the workers it forked and reaped
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "traces": traces,
        "spans": spans,
        "megabytes": size / 1e6,
        "analyze_s": analyze_s,
        "analyze_cpu_s": cpu_s,
        "parse_s": parse_s,
        "analyze_spans_per_s": spans / analyze_s,
        "analyze_mb_per_s": size / 1e6 / analyze_s,
        "parse_mb_per_s": size / 1e6 / parse_s,
        "ratio": parse_s / analyze_s,
        "parser": parser,
        "parse_s_by_parser": {name: seconds for name, (seconds, _) in timings.items()},
        **html_report(report_path),
    }


def html_report(report_path: Path) -> dict:
    """The HTML page of the batch report (what `--html` adds to the run): its size, and the time to draw
    it, best of three, against the analysis it draws."""
    import msgspec

    from streamproc.report.html import render_html

    report = msgspec.json.decode(report_path.read_bytes())
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        page = render_html(report, title="Trace analysis", subtitle=str(report_path)).encode()
        best = min(best, time.perf_counter() - started)
    (BUILD / "bench-report.html").write_bytes(page)
    return {"html_s": best, "html_bytes": len(page)}


WORKER_COUNTS = (1, 2, 4)


def table(results: dict) -> str:
    i, m, lat, b = results["ingest"], results["memory"], results["latency"], results["batch"]
    o = results["overload"]
    calls = ", ".join(f"{code} {count:,}" for code, count in sorted(o["calls"].items()))
    overload_row = (
        "overload: 3x sustained offered for 60 s",
        f"{o['offered_spans'] / o['seconds']:,.0f} spans/s",
        "",
        f"calls: {calls}; peak RSS {o['peak_rss_bytes'] / 2**20:,.0f} MiB; "
        f"accounting exact: {o['accounting_exact']}",
    )
    rows = [
        (
            "ingest, null receiver",
            f"{i['null']['spans_per_s']:,.0f} spans/s",
            "",
            f"{i['null']['cpu_s_per_million']:.1f} CPU s / M spans",
        ),
        (
            "ingest, streamproc (all analyzers), sustained",
            f"{i['streamproc']['sustained_spans_per_s']:,.0f} spans/s",
            ">= 150,000",
            f"{i['streamproc']['cpu_s_per_million']:.1f} CPU s / M spans; analyzed, in steady state; "
            f"{i['streamproc']['workers']:.0f} workers (the default)",
        ),
        (
            "  streamproc, until every trace analyzed",
            f"{i['streamproc']['spans_per_s']:,.0f} spans/s",
            "",
            "from the first request; the last pass's rootless traces wait out the idle timeout",
        ),
        ("  streamproc / null", f"{i['ratio']:.2f}", ">= 0.20", ""),
        *(
            (
                f"  --workers {n}, sustained",
                f"{r['sustained_spans_per_s']:,.0f} spans/s",
                ">= 100,000" if n == "1" else "",
                f"{r['cpu_s_per_million']:.1f} CPU s / M spans: receiving "
                f"{r['server_cpu_s_per_million']:.1f}, workers {r['workers_cpu_s_per_million']:.1f}",
            )
            for n, r in results.get("scaling", {}).items()
        ),
        (
            "memory per buffered span (RSS)",
            f"{m['rss_bytes_per_span']:.0f} B",
            "<= 400",
            f"{m['spans']:,} spans",
        ),
        ("memory per buffered span (tracemalloc)", f"{m['tracemalloc_bytes_per_span']:.0f} B", "<= 400", ""),
        (
            "completion latency p50",
            f"{lat['p50_ms']:.0f} ms",
            "",
            f"at {lat['rate_spans_per_s']:,.0f} spans/s",
        ),
        (
            "completion latency p99",
            f"{lat['p99_ms']:.0f} ms",
            f"<= {lat['root_grace_s'] * 1000 + 200:.0f}",
            "",
        ),
        (
            "batch analyze",
            f"{b['analyze_spans_per_s']:,.0f} spans/s",
            "",
            f"{b['analyze_mb_per_s']:.1f} MB/s, {b['analyze_s']:.1f} s for {b['traces']:,} traces "
            f"({b['analyze_cpu_s']:.1f} CPU s, workers included)",
        ),
        (
            f"batch parse only ({b['parser']})",
            f"{b['parse_mb_per_s']:.1f} MB/s",
            "",
            f"{b['parse_s']:.1f} s, best of {PARSE_RUNS} processes",
        ),
        ("  analyze / parse-only rate", f"{b['ratio']:.2f}", ">= 1.00", ""),
        (
            "batch HTML report (--html)",
            f"{b['html_s'] / b['analyze_s'] * 100:.1f} %",
            "< 10 % of analyze",
            f"{b['html_s'] * 1000:.0f} ms to draw, {b['html_bytes'] / 1e6:.2f} MB (< 2 MB)",
        ),
    ]
    rows.append(overload_row)
    widths = [max(len(r[c]) for r in [*rows, ("measure", "figure", "target", "notes")]) for c in range(4)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(("measure", "figure", "target", "notes"), widths, strict=True))
    ]
    lines += [
        "  ".join((r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].ljust(widths[2]), r[3])) for r in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per ingest target")
    parser.add_argument("--streams", type=int, default=4, help="concurrent load streams")
    parser.add_argument("--batch-traces", type=int, default=100_000, help="traces in the batch file")
    parser.add_argument("--output", default=str(BUILD / "bench.json"))
    args = parser.parse_args()
    BUILD.mkdir(exist_ok=True)
    print("preparing requests ...", file=sys.stderr)
    passes = build_requests(traces_per_pass=5000, passes=60)
    results: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        }
    }
    print("ingest ...", file=sys.stderr)
    results["ingest"] = ingest(passes, streams=args.streams, duration_s=args.duration)
    print("ingest by workers ...", file=sys.stderr)
    results["scaling"] = {
        str(n): ingest_streamproc(passes, streams=args.streams, duration_s=args.duration, workers=n)
        for n in WORKER_COUNTS
    }
    print("memory ...", file=sys.stderr)
    memory = subprocess.run(
        [sys.executable, "-m", "bench.memory"], capture_output=True, text=True, check=True
    )
    results["memory"] = json.loads(memory.stdout)
    print("completion latency ...", file=sys.stderr)
    results["latency"] = completion_latency(
        build_requests(traces_per_pass=5000, passes=3, seed=2),
        results["ingest"]["streamproc"]["sustained_spans_per_s"] / 2,
    )
    print("batch ...", file=sys.stderr)
    results["batch"] = batch(args.batch_traces)
    print("overload ...", file=sys.stderr)
    from bench.overload import run as overload

    results["overload"] = overload(3 * results["ingest"]["streamproc"]["sustained_spans_per_s"], 60.0)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\n(figures in {args.output})")


if __name__ == "__main__":
    main()
