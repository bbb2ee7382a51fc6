"""`streamproc generate`: synthetic traces of a named scenario, in any format analyze-traces reads."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from streamproc.cli.exits import EXIT_OK
from streamproc.cli.output import write_file
from streamproc.decode import Format
from streamproc.errors import UsageError
from streamproc.tools.encode import encode
from streamproc.tools.faults import FaultKind, make_case, strip
from streamproc.tools.generate import Scenario, generate
from streamproc.units import parse_duration_s, parse_time_ns, seconds_to_ns

_EXTENSIONS = {
    Format.JAEGER: "jaeger.json",
    Format.ZIPKIN: "zipkin.json",
    Format.OTLP_JSON: "otlp.json",
    Format.OTLP_JSONL: "otlp.jsonl",
}


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Write synthetic traces of a named scenario.")
    parser.add_argument(
        "--scenario",
        choices=[s.value for s in Scenario],
        default="incident",
        help="healthy, incident (slow DB join, Redis timeouts) or fixed (default incident)",
    )
    parser.add_argument(
        "--fault",
        choices=[k.value for k in FaultKind],
        help="instead of --scenario: a random topology (by --seed) with this fault; --output gets the traces "
        "with the fault, --baseline-output those without, and standard error says where the fault is",
    )
    parser.add_argument("--baseline-output", metavar="PATH", help="with --fault: the traces without it")
    parser.add_argument(
        "--strip", action="store_true", help="with --fault: drop span kinds and status (times and links only)"
    )
    parser.add_argument("--count", type=int, default=1000, help="number of traces (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--format",
        choices=[f.value for f in Format] + ["all"],
        default="jaeger",
        help="output format; 'all' writes one file per format into --output (a directory)",
    )
    parser.add_argument("--start", default="2026-01-01T00:00:00Z", help="start of the first trace (ISO 8601)")
    parser.add_argument("--window", default="1h", help="time the traces are spread over (default 1h)")
    parser.add_argument(
        "--output", "-o", metavar="PATH", help="file (directory with --format all); default standard output"
    )
    return parser


def run(argv: Sequence[str], prog: str) -> int:
    args = _parser(prog).parse_args(argv)
    problems = []
    if args.count < 1:
        problems.append("--count must be at least 1")
    if args.format == "all" and not args.output:
        problems.append("--format all writes several files: give --output DIRECTORY")
    if args.fault and (not args.output or not args.baseline_output or args.format == "all"):
        problems.append("--fault writes two files: give --output and --baseline-output (one format)")
    if (args.baseline_output or args.strip) and not args.fault:
        problems.append("--baseline-output and --strip go with --fault")
    if problems:
        raise UsageError("; ".join(problems))
    if args.fault:
        return _fault_case(args, prog)
    traces = generate(
        Scenario(args.scenario),
        count=args.count,
        seed=args.seed,
        start_ns=parse_time_ns(args.start, "--start"),
        window_ns=seconds_to_ns(parse_duration_s(args.window, "--window")),
    )
    if args.format == "all":
        directory = Path(args.output)
        directory.mkdir(parents=True, exist_ok=True)
        for fmt in Format:
            write_file(str(directory / f"{args.scenario}.{_EXTENSIONS[fmt]}"), encode(traces, fmt))
    elif args.output:
        write_file(args.output, encode(traces, Format(args.format)))
    else:
        sys.stdout.buffer.write(encode(traces, Format(args.format)))
    return EXIT_OK


def _fault_case(args: argparse.Namespace, prog: str) -> int:
    case = make_case(args.seed, FaultKind(args.fault), traces=args.count)
    fmt = Format(args.format)
    for path, traces in ((args.baseline_output, case.baseline), (args.output, case.current)):
        write_file(path, encode([strip(t) for t in traces] if args.strip else traces, fmt))
    fault, topology = case.fault, case.topology
    where = topology.services[fault.service]
    if fault.operation >= 0:
        where += f" {topology.operations[fault.service][fault.operation].name}"
    print(
        f"{prog}: {len(topology.services)} services; fault {fault.kind.value} at {where} "
        f"({fault.factor:.3g}); the origin to find: {fault.truth(topology, stripped=args.strip)}",
        file=sys.stderr,
    )
    return EXIT_OK
