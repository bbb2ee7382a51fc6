"""`analyze-traces` (also `streamproc analyze`): trace files or a Jaeger query in, a report out."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from streamproc import __version__
from streamproc.analyze import AnalysisOptions
from streamproc.analyze.diagnosis import diagnose
from streamproc.analyze.filters import TraceFilter
from streamproc.analyze.insights import InsightOptions
from streamproc.analyze.schema import Report
from streamproc.analyze.suite import ALL_SECTIONS, Section
from streamproc.batch import MIN_TRACES_PER_WORKER, Analyzed, analyze_inputs
from streamproc.batch.compare import compare
from streamproc.batch.inputs import Contents, map_source
from streamproc.cli.exits import EXIT_OK
from streamproc.cli.output import progress, write_file
from streamproc.decode import Format
from streamproc.errors import UsageError
from streamproc.report import render_json, render_text
from streamproc.units import parse_duration_s, parse_time_ns, seconds_to_ns

#: The insight thresholds as flags: InsightOptions field, metavar, meaning.
_INSIGHT_FLAGS = (
    ("n_plus_one_min_calls", "N", "N+1: sibling calls of one statement in a row"),
    ("n_plus_one_min_ms", "MS", "N+1: their time together at least"),
    ("sequential_min_saving_ms", "MS", "sequential calls: least saving in parallel"),
    ("sequential_min_share_pct", "PCT", "sequential calls: least saving, %% of trace"),
    ("retry_min_calls", "N", "retry storm: calls in a row, all but the last failed"),
)


def _parser(prog: str) -> argparse.ArgumentParser:
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
        "--html",
        metavar="FILE",
        help="also write a self-contained HTML report (service map, waterfalls, histogram) to FILE",
    )
    out.add_argument(
        "--verbose", "-v", action="store_true", help="example trace ids, per-service detail, paths"
    )
    out.add_argument("--top", type=int, default=10, metavar="N", help="items per list (default 10)")
    sections = parser.add_argument_group("sections (default: all)")
    sections.add_argument("--bottlenecks", action="store_true", help="spans that dominate their traces")
    sections.add_argument("--critical-path", action="store_true", help="what the slowest traces wait on")
    sections.add_argument("--errors", action="store_true", help="where errors originate and propagate")
    sections.add_argument("--dependencies", action="store_true", help="calls between services")
    sections.add_argument(
        "--insights", action="store_true", help="N+1, sequential calls, retry storms, cascading timeouts"
    )
    tuning = parser.add_argument_group("insight thresholds")
    defaults = InsightOptions()
    for field, metavar, meaning in _INSIGHT_FLAGS:
        default = getattr(defaults, field)
        tuning.add_argument(
            f"--{field.replace('_', '-')}",
            type=type(default),
            default=default,
            metavar=metavar,
            help=f"{meaning} (default {default:g})",
        )
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
        "--diagnose",
        action="store_true",
        help="with --baseline: rank the services most likely to have started the change, with reasons",
    )
    parser.add_argument(
        "--diagnose-from",
        metavar="SERVICE",
        help="with --diagnose: rank only SERVICE and the services it calls (an alerting service)",
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
    """The filters, analysis options and sections the flags ask for; one UsageError listing every problem."""
    problems: list[str] = []

    def attempt(fn: Callable[[str, str], Any], text: str | None, option: str) -> Any:
        if not text:
            return None
        try:
            return fn(text, option)
        except UsageError as exc:
            problems.append(str(exc))
            return None

    time_range = attempt(parse_duration_s, args.time_range, "--time-range")
    rules = TraceFilter(
        time_range_ns=seconds_to_ns(time_range) if time_range is not None else None,
        since_ns=attempt(parse_time_ns, args.since, "--since"),
        until_ns=attempt(parse_time_ns, args.until, "--until"),
        latency_threshold_ms=args.latency_threshold,
        service=args.service,
        errors_only=args.errors_only,
    )
    options = AnalysisOptions(
        bottleneck_threshold_pct=args.bottleneck_threshold,
        slowest_paths=max(args.top, 0),
        insights=InsightOptions(**{field: getattr(args, field) for field, _, _ in _INSIGHT_FLAGS}),
        diagnosis=args.diagnose,
    )
    problems += rules.problems() + options.problems() + _input_problems(args)
    if args.jaeger_url:
        attempt(parse_duration_s, args.lookback, "--lookback")
    if problems:
        raise UsageError("; ".join(problems))
    chosen = frozenset(
        section
        for section, wanted in (
            (Section.BOTTLENECKS, args.bottlenecks),
            (Section.CRITICAL_PATH, args.critical_path),
            (Section.ERRORS, args.errors),
            (Section.DEPENDENCIES, args.dependencies),
            (Section.INSIGHTS, args.insights),
        )
        if wanted
    )
    return rules, options, chosen or ALL_SECTIONS


def _input_problems(args: argparse.Namespace) -> list[str]:
    problems = []
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
    elif not args.files:
        problems.append("no input: give one or more trace files (- for stdin) or --jaeger-url")
    if args.diagnose and not args.baseline:
        problems.append("--diagnose compares with the traces before the change: give --baseline FILE")
    if args.diagnose_from and not args.diagnose:
        problems.append("--diagnose-from needs --diagnose")
    if args.save and not args.jaeger_url:
        problems.append("--save keeps what --jaeger-url fetched; it needs --jaeger-url")
    return problems


def _fetch(args: argparse.Namespace) -> bytes:
    from streamproc.batch.fetch import JaegerQuery, fetch_jaeger

    query = JaegerQuery(
        url=args.jaeger_url,
        service=args.service,
        lookback_s=parse_duration_s(args.lookback, "--lookback"),
        limit=args.limit,
    )
    body = fetch_jaeger(query, now_s=time.time())
    if args.save:
        write_file(args.save, body)
    return body


def run(argv: Sequence[str], prog: str) -> int:
    args = _parser(prog).parse_args(argv)
    rules, options, sections = _options(args)

    def analyzed(sources: Sequence[str], read: Callable[[str], Contents] = map_source) -> Analyzed:
        forced = Format(args.format) if args.format else None
        return analyze_inputs(
            sources, rules=rules, options=options, forced=forced, jobs=args.jobs, read=read, progress=progress
        )

    if args.jaeger_url:
        body = _fetch(args)
        current = analyzed([args.jaeger_url], read=lambda _source: body)
    else:
        current = analyzed(args.files)
    for warning in current.inputs.warnings():
        print(f"{prog}: warning: {warning}", file=sys.stderr)
    report = current.suite.report(sections=sections, top=args.top, skipped_spans=current.inputs.skipped)
    filters = rules.report()
    filters["input_traces"] = current.inputs.trace_count
    report["filters"] = filters
    if args.baseline:
        before = analyzed(args.baseline)
        base_report = before.suite.report(
            sections=sections, top=args.top, skipped_spans=before.inputs.skipped
        )
        report["comparison"] = compare(base_report, report, before.suite, current.suite, top=args.top)
        if args.diagnose:
            report["diagnosis"] = diagnose(
                before.suite.diagnosis, current.suite.diagnosis, service=args.diagnose_from
            )
    _emit(args, report, current, prog)
    return EXIT_OK


def _emit(args: argparse.Namespace, report: Report, current: Analyzed, prog: str) -> None:
    if args.json:
        output = render_json(report)
    else:
        output = render_text(
            report,
            title=f"Trace analysis: {_subtitle(args, current)}",
            verbose=args.verbose,
            bottleneck_threshold_pct=args.bottleneck_threshold,
        ).encode()
    if args.html:
        from streamproc.report.html import render_html

        page = render_html(report, title="Trace analysis", subtitle=_subtitle(args, current)).encode()
        write_file(args.html, page)
        print(f"{prog}: wrote the HTML report to {args.html} ({len(page) / 1024:,.0f} kB)", file=sys.stderr)
    if args.output:
        write_file(args.output, output)
        print(f"{prog}: wrote the report to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(output)
        sys.stdout.flush()


def _subtitle(args: argparse.Namespace, current: Analyzed) -> str:
    """The inputs, and the baseline when there is one."""
    inputs = ", ".join(f"{s.source} ({s.format.value})" for s in current.inputs.sources)
    if args.baseline:
        inputs += f" against baseline {', '.join(args.baseline)}"
    return inputs
