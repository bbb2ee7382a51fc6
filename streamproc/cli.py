"""Command line: `analyze-traces` (also `streamproc analyze`) and `streamproc generate`.

Exit codes: 0 success, 1 bad input (a file or backend that cannot be used), 2 usage error. Errors are
one line on stderr naming the file and the problem; never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from streamproc import __version__
from streamproc.analyze import AnalysisOptions, AnalysisSuite
from streamproc.analyze.suite import ALL_SECTIONS, Section
from streamproc.batch import LoadedTraces, analyze, compare, load, read_source
from streamproc.config import parse_duration_s
from streamproc.decode import Format
from streamproc.errors import InputError, StreamprocError, UsageError
from streamproc.filters import TraceFilter
from streamproc.forked import MIN_TRACES_PER_WORKER, analyze_in_workers, load_and_analyze_jaeger
from streamproc.report import render_json, render_text

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE = 0, 1, 2
_EXTENSIONS = {
    Format.JAEGER: "jaeger.json",
    Format.ZIPKIN: "zipkin.json",
    Format.OTLP_JSON: "otlp.json",
    Format.OTLP_JSONL: "otlp.jsonl",
}


def parse_time_ns(text: str, option: str) -> int:
    """An ISO 8601 time (UTC unless it says otherwise) or seconds since the epoch, as ns."""
    try:
        return int(float(text) * 1e9)
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not an ISO 8601 time or epoch seconds") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp()) * 1_000_000_000 + stamp.microsecond * 1000


# --- analyze --------------------------------------------------------------------------------------------


def _analyze_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Analyze exported traces (Jaeger, Zipkin v2, OTLP JSON / JSON Lines): latency, "
        "bottlenecks, critical paths, errors and service dependencies.",
        epilog="With no section flag every section is shown. Exit codes: 0 success, 1 bad input, 2 usage.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="trace files; - reads standard input")
    parser.add_argument("--format", choices=[f.value for f in Format], help="force the input format")
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the report as JSON (schema: README)")
    out.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of stdout")
    out.add_argument(
        "--verbose", "-v", action="store_true", help="example trace ids, per-service detail, paths"
    )
    out.add_argument("--top", type=int, default=10, metavar="N", help="items per list (default 10)")
    sections = parser.add_argument_group("sections (default: all)")
    sections.add_argument("--bottlenecks", action="store_true", help="spans that dominate their traces")
    sections.add_argument("--critical-path", action="store_true", help="what the slowest traces wait on")
    sections.add_argument("--errors", action="store_true", help="where errors originate and propagate")
    sections.add_argument("--dependencies", action="store_true", help="calls between services")
    filters = parser.add_argument_group("filters")
    filters.add_argument(
        "--time-range",
        metavar="DURATION",
        help="traces that started within DURATION before the newest trace (e.g. 1h)",
    )
    filters.add_argument("--since", metavar="TIME", help="traces that started at or after TIME (ISO 8601)")
    filters.add_argument("--until", metavar="TIME", help="traces that started before TIME (ISO 8601)")
    filters.add_argument("--latency-threshold", type=float, metavar="MS", help="traces slower than MS")
    filters.add_argument("--service", metavar="NAME", help="traces that include service NAME")
    filters.add_argument("--errors-only", action="store_true", help="traces with an erroring span")
    filters.add_argument(
        "--bottleneck-threshold",
        type=float,
        default=20.0,
        metavar="PCT",
        help="self time share of the trace above which a span is a bottleneck (default 20)",
    )
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        action="append",
        help="compare with FILE (the traces before a change); may be repeated",
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        metavar="N",
        help=f"decode and analyze in N processes (default: one per usable CPU, each with at least "
        f"{MIN_TRACES_PER_WORKER:,} traces; 1: all in this process)",
    )
    jaeger = parser.add_argument_group("fetch from Jaeger instead of files")
    jaeger.add_argument("--jaeger-url", metavar="URL", help="Jaeger query service, e.g. http://jaeger:16686")
    jaeger.add_argument("--lookback", default="1h", metavar="DURATION", help="how far back to search (1h)")
    jaeger.add_argument("--limit", type=int, default=100, metavar="N", help="traces to fetch (100)")
    jaeger.add_argument("--save", metavar="FILE", help="keep the fetched JSON in FILE")
    parser.add_argument("--version", action="version", version=f"streamproc {__version__}")
    return parser


def _options(args: argparse.Namespace) -> tuple[TraceFilter, AnalysisOptions, frozenset[Section]]:
    problems: list[str] = []

    def attempt(fn: Any, *a: Any) -> Any:
        try:
            return fn(*a)
        except UsageError as exc:
            problems.append(str(exc))
            return None

    time_range = attempt(parse_duration_s, args.time_range, "--time-range") if args.time_range else None
    rules = TraceFilter(
        time_range_ns=int(time_range * 1e9) if time_range is not None else None,
        since_ns=attempt(parse_time_ns, args.since, "--since") if args.since else None,
        until_ns=attempt(parse_time_ns, args.until, "--until") if args.until else None,
        latency_threshold_ms=args.latency_threshold,
        service=args.service,
        errors_only=args.errors_only,
    )
    options = AnalysisOptions(
        bottleneck_threshold_pct=args.bottleneck_threshold, slowest_paths=max(args.top, 0)
    )
    problems += rules.problems() + options.problems()
    if args.top < 1:
        problems.append("--top must be at least 1")
    if args.jobs is not None and args.jobs < 1:
        problems.append("--jobs must be at least 1")
    if args.jaeger_url:
        if args.files:
            problems.append("give trace files or --jaeger-url, not both")
        if not args.service:
            problems.append("--jaeger-url needs --service (the service whose traces to fetch)")
        if args.limit < 1:
            problems.append("--limit must be at least 1")
        attempt(parse_duration_s, args.lookback, "--lookback")
    elif not args.files:
        problems.append("no input: give one or more trace files (- for stdin) or --jaeger-url")
    if args.save and not args.jaeger_url:
        problems.append("--save keeps what --jaeger-url fetched; it needs --jaeger-url")
    if problems:
        raise UsageError("; ".join(problems))
    chosen = frozenset(
        section
        for section, wanted in (
            (Section.BOTTLENECKS, args.bottlenecks),
            (Section.CRITICAL_PATH, args.critical_path),
            (Section.ERRORS, args.errors),
            (Section.DEPENDENCIES, args.dependencies),
        )
        if wanted
    )
    return rules, options, chosen or ALL_SECTIONS


def _progress_bar(total: int, label: str, items: Iterable[Any] | None = None) -> Any:
    """A tqdm bar on stderr when a person is watching (a TTY) and there is enough to wait for; else None."""
    if total < 1000 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm  # type: ignore[import-untyped]  # tqdm ships no type information

    tqdm.monitor_interval = 0  # no monitor thread: batch analysis forks its workers only with one thread
    return tqdm(items, desc=label, total=total, leave=False, file=sys.stderr, dynamic_ncols=True)


def _progress(items: Iterable[Any], label: str, total: int) -> Iterable[Any]:
    """`items`, counted on a progress bar where one is shown."""
    bar: Iterable[Any] | None = _progress_bar(total, label, items)
    return items if bar is None else bar


def _fetch(args: argparse.Namespace) -> bytes:
    from streamproc.fetch import JaegerQuery, fetch_jaeger

    query = JaegerQuery(
        url=args.jaeger_url,
        service=args.service,
        lookback_s=parse_duration_s(args.lookback, "--lookback"),
        limit=args.limit,
    )
    body = fetch_jaeger(query, now_s=time.time())
    if args.save:
        _write(args.save, body)
    return body


def _load_and_analyze(
    args: argparse.Namespace,
    sources: Sequence[str],
    rules: TraceFilter,
    options: AnalysisOptions,
    read: Callable[[str], bytes] = read_source,
) -> tuple[LoadedTraces, AnalysisSuite]:
    """Decode and analyze the inputs: one Jaeger export in workers where that applies, else load, then
    analyze (in workers where that is worth it)."""
    forced = Format(args.format) if args.format else None
    if len(sources) == 1 and forced in (None, Format.JAEGER):
        data = read(sources[0])
        read = lambda _source: data  # noqa: E731 - read once (even stdin), whichever path decodes it
        name = "<stdin>" if sources[0] == "-" else sources[0]
        both = load_and_analyze_jaeger(name, data, rules, options, _progress, jobs=args.jobs)
        if both is not None:
            return both
    loaded = load(sources, forced=forced, read=read, progress=_progress)
    run = functools.partial(analyze_in_workers, jobs=args.jobs)
    return loaded, analyze(loaded, rules, options, progress=_progress, run=run)


def _write(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise InputError(path, f"cannot write: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is decoded and analyzed.

    Decoding allocates millions of containers that hold no reference cycles; each allocation burst sets
    off collections that walk them all and free nothing (orjson.loads of a 62 MB Jaeger file: 2.7 s with
    the collector running, 0.8 s paused). Reference counting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_analyze(argv: Sequence[str], prog: str = "analyze-traces") -> int:
    args = _analyze_parser(prog).parse_args(argv)
    rules, options, sections = _options(args)
    with _collector_paused():
        report, loaded = _analyze(args, rules, options, sections, prog)
    _emit(args, report, loaded, prog)
    return EXIT_OK


def _analyze(
    args: argparse.Namespace,
    rules: TraceFilter,
    options: AnalysisOptions,
    sections: frozenset[Section],
    prog: str,
) -> tuple[dict[str, Any], LoadedTraces]:
    if args.jaeger_url:
        body = _fetch(args)
        loaded, suite = _load_and_analyze(args, [args.jaeger_url], rules, options, read=lambda _source: body)
    else:
        loaded, suite = _load_and_analyze(args, args.files, rules, options)
    for warning in loaded.warnings():
        print(f"{prog}: warning: {warning}", file=sys.stderr)
    report = suite.report(sections=sections, top=args.top, skipped_spans=loaded.skipped)
    if args.baseline:
        base_loaded, base_suite = _load_and_analyze(args, args.baseline, rules, options)
        base_report = base_suite.report(sections=sections, top=args.top, skipped_spans=base_loaded.skipped)
        report["comparison"] = compare(base_report, report, base_suite, suite)
    return report, loaded


def _emit(args: argparse.Namespace, report: dict[str, Any], loaded: LoadedTraces, prog: str) -> None:
    if args.json:
        output = render_json(report)
    else:
        inputs = ", ".join(f"{s.source} ({s.format.value})" for s in loaded.sources)
        title = f"Trace analysis: {inputs}"
        if args.baseline:
            title += f" against baseline {', '.join(args.baseline)}"
        output = render_text(
            report, title=title, verbose=args.verbose, bottleneck_threshold_pct=args.bottleneck_threshold
        ).encode()
    if args.output:
        _write(args.output, output)
        print(f"{prog}: wrote the report to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(output)
        sys.stdout.flush()


# --- generate -------------------------------------------------------------------------------------------


def _generate_parser(prog: str) -> argparse.ArgumentParser:
    from streamproc.generate import Scenario

    parser = argparse.ArgumentParser(prog=prog, description="Write synthetic traces of a named scenario.")
    parser.add_argument(
        "--scenario",
        choices=[s.value for s in Scenario],
        default="incident",
        help="healthy, incident (slow DB join, Redis timeouts) or fixed (default incident)",
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


def run_generate(argv: Sequence[str], prog: str = "streamproc generate") -> int:
    from streamproc.encode import encode
    from streamproc.generate import Scenario, generate

    args = _generate_parser(prog).parse_args(argv)
    problems = []
    if args.count < 1:
        problems.append("--count must be at least 1")
    if args.format == "all" and not args.output:
        problems.append("--format all writes several files: give --output DIRECTORY")
    if problems:
        raise UsageError("; ".join(problems))
    window_ns = int(parse_duration_s(args.window, "--window") * 1e9)
    traces = generate(
        Scenario(args.scenario),
        count=args.count,
        seed=args.seed,
        start_ns=parse_time_ns(args.start, "--start"),
        window_ns=window_ns,
    )
    if args.format == "all":
        directory = Path(args.output)
        directory.mkdir(parents=True, exist_ok=True)
        for fmt in Format:
            _write(str(directory / f"{args.scenario}.{_EXTENSIONS[fmt]}"), encode(traces, fmt))
    elif args.output:
        _write(args.output, encode(traces, Format(args.format)))
    else:
        sys.stdout.buffer.write(encode(traces, Format(args.format)))
    return EXIT_OK


# --- serve --------------------------------------------------------------------------------------------


def _serve_parser(prog: str) -> argparse.ArgumentParser:
    from streamproc.config import FIELDS

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Receive OTLP/gRPC spans, assemble whole traces, analyze each, serve Prometheus "
        "metrics and a JSON report. Every setting also comes from --config FILE (TOML or YAML) and from "
        "STREAMPROC_<NAME> environment variables; flags win over the environment, which wins over the file.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--config", metavar="FILE", help="settings file (.toml, .yaml or .yml)")
    for name, spec in FIELDS.items():
        default = spec.default
        kind = spec.metadata.get("kind")
        metavar = "DURATION" if kind == "duration" else name.upper()
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            metavar=metavar,
            help=f"{spec.metadata['help']} (default {default!r})",
        )
    return parser


def run_serve(argv: Sequence[str], prog: str = "streamproc serve") -> int:
    import os

    from streamproc.config import build_settings, environment_settings, read_config_file
    from streamproc.logs import configure_logging
    from streamproc.service import serve

    args = vars(_serve_parser(prog).parse_args(argv))
    config_path = args.pop("config", None)
    layers: list[tuple[str, Any]] = []
    if config_path:
        layers.append((f"--config {config_path}:", read_config_file(config_path)))
    layers.append(("environment", environment_settings(os.environ)))
    layers.append(("flag", args))
    settings = build_settings(layers)
    configure_logging(settings.log_format, settings.log_level)
    try:
        return serve(settings)
    except OSError as exc:
        raise UsageError(f"cannot start: {exc}") from None


# --- send ---------------------------------------------------------------------------------------------


def _send_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Replay trace files (any format analyze-traces reads) into an OTLP/gRPC endpoint.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="trace files; - reads standard input")
    parser.add_argument(
        "--endpoint", default="127.0.0.1:4317", help="OTLP/gRPC HOST:PORT (default 127.0.0.1:4317)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        metavar="SPANS_PER_SEC",
        help="pace the replay (default: as fast as the endpoint takes it)",
    )
    parser.add_argument("--batch-size", type=int, default=512, help="spans per request (default 512)")
    parser.add_argument("--format", choices=[f.value for f in Format], help="force the input format")
    parser.add_argument("--bearer-token", default="", help="send 'authorization: Bearer TOKEN'")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    return parser


def run_send(argv: Sequence[str], prog: str = "streamproc send") -> int:
    from streamproc.send import send_traces

    args = _send_parser(prog).parse_args(argv)
    problems = []
    if args.batch_size < 1:
        problems.append("--batch-size must be at least 1")
    if args.rate is not None and args.rate <= 0:
        problems.append("--rate must be positive")
    if problems:
        raise UsageError("; ".join(problems))
    with _collector_paused():
        loaded = load(args.files, forced=Format(args.format) if args.format else None)
    for warning in loaded.warnings():
        print(f"{prog}: warning: {warning} (not sent)", file=sys.stderr)
    traces = [tree.spans for tree in loaded.trees]
    total = sum(len(spans) for spans in traces)
    bar = _progress_bar(total, "sending spans")
    headers = [("authorization", f"Bearer {args.bearer_token}")] if args.bearer_token else []
    try:
        result = send_traces(
            traces,
            endpoint=args.endpoint,
            batch_size=args.batch_size,
            rate=args.rate,
            timeout_s=args.timeout,
            headers=headers,
            progress=bar.update if bar is not None else lambda _n: None,
        )
    finally:
        if bar is not None:
            bar.close()
    print(
        f"{prog}: sent {result.spans_sent:,} spans of {len(traces):,} traces in {result.requests:,} requests"
        f" ({result.retries:,} retries); the endpoint rejected {result.rejected_spans:,}",
        file=sys.stderr,
    )
    for message in result.messages:
        print(f"{prog}: rejected: {message}", file=sys.stderr)
    return EXIT_OK


# --- entry points ---------------------------------------------------------------------------------------


def _fail(prog: str, message: str, code: int) -> NoReturn:
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _guarded(prog: str, run: Any, argv: Sequence[str]) -> int:
    """Map the exception tree to exit codes: the one place errors become process outcomes."""
    try:
        code: int = run(argv, prog)
        return code
    except UsageError as exc:
        _fail(prog, str(exc), EXIT_USAGE)
    except InputError as exc:
        _fail(prog, str(exc), EXIT_BAD_INPUT)
    except StreamprocError as exc:
        _fail(prog, str(exc), EXIT_BAD_INPUT)
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (e.g. `| head`): not an error worth a message
        return EXIT_OK
    except KeyboardInterrupt:
        _fail(prog, "interrupted", 130)


def analyze_main(argv: Sequence[str] | None = None) -> int:
    return _guarded("analyze-traces", run_analyze, sys.argv[1:] if argv is None else argv)


_COMMANDS = {"serve": run_serve, "send": run_send, "analyze": run_analyze, "generate": run_generate}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: streamproc {serve,send,analyze,generate} ...\n\n"
            "  serve     receive OTLP/gRPC, analyze whole traces, serve /metrics and /api/report\n"
            "  send      replay trace files into an OTLP/gRPC endpoint\n"
            "  analyze   analyze trace files (same as analyze-traces)\n"
            "  generate  write synthetic traces of a named scenario\n"
        )
        return EXIT_OK if argv else EXIT_USAGE
    if argv[0] == "--version":
        print(f"streamproc {__version__}")
        return EXIT_OK
    command = _COMMANDS.get(argv[0])
    if command is None:
        _fail("streamproc", f"unknown command {argv[0]!r} (choose from {', '.join(_COMMANDS)})", EXIT_USAGE)
    return _guarded(f"streamproc {argv[0]}", command, argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
