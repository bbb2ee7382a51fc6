"""The report object as JSON (stable keys, two-space indent) or as text a person reads."""

from __future__ import annotations

from collections.abc import Callable

from streamproc.analyze.schema import (
    Bottleneck,
    BottleneckSide,
    Change,
    Comparison,
    CriticalPath,
    CriticalPathShare,
    Dependencies,
    Diagnosis,
    Errors,
    Filters,
    Insight,
    Report,
    Summary,
)
from streamproc.jsonio import dumps_indented
from streamproc.report.table import duration_text, num, pct_text, shorten, table

PATTERN_WIDTH = 72


def render_json(report: Report) -> bytes:
    return dumps_indented(report) + b"\n"


def render_text(
    report: Report, *, title: str, verbose: bool = False, bottleneck_threshold_pct: float = 20.0
) -> str:
    lines = [title, "=" * len(title), ""]
    filters = report.get("filters")
    described = _filters_text(filters) if filters is not None else None
    if filters is not None and described is not None:
        matched = report["summary"]["trace_count"]
        found = (
            f"{num(matched)} of {num(filters['input_traces'])}" if "input_traces" in filters else num(matched)
        )
        lines += [f"Filters: traces {described}: {found} traces match", ""]
        if matched == 0:
            return "\n".join([*lines, "No trace matches the filters: nothing to report."]) + "\n"
    if "diagnosis" in report:
        lines += _diagnosis(report["diagnosis"])
    if "comparison" in report:
        lines += _comparison(report["comparison"])
    lines += _summary(report["summary"])
    if "bottlenecks" in report:
        lines += _bottlenecks(report["bottlenecks"], bottleneck_threshold_pct, verbose)
    if "critical_path_summary" in report:
        lines += _critical_paths(report["critical_path_summary"], report["critical_paths"], verbose)
    if "errors" in report:
        lines += _errors(report["errors"], verbose)
    if "dependencies" in report:
        lines += _dependencies(report["dependencies"], verbose)
    if "insights" in report:
        lines += _insights(report["insights"], verbose)
    return "\n".join(lines).rstrip() + "\n"


def _filters_text(filters: Filters) -> str | None:
    """The filters in words (`slower than 500 ms; through service api`), None if there are none."""
    parts = []
    if filters["time_range"] is not None:
        parts.append(f"started within {duration_text(filters['time_range'] * 1000)} before the newest trace")
    if filters["since"] is not None:
        parts.append(f"started at or after {filters['since']}")
    if filters["until"] is not None:
        parts.append(f"started before {filters['until']}")
    if filters["latency_threshold_ms"] is not None:
        parts.append(f"slower than {duration_text(filters['latency_threshold_ms'])}")
    if filters["service"] is not None:
        parts.append(f"through service {filters['service']}")
    if filters["errors_only"]:
        parts.append("with an erroring span")
    return "; ".join(parts) or None


def _summary(summary: Summary) -> list[str]:
    stats = summary["duration_stats"]
    span = summary["time_range"]
    rows = [
        ("Traces", num(summary["trace_count"]), ""),
        ("Spans", num(summary["span_count"]), ""),
        ("Error traces", num(summary["error_count"]), f"({pct_text(summary['error_rate'], 2)} of traces)"),
        ("Error spans", num(summary["error_span_count"]), ""),
        (
            "Skipped spans",
            num(summary["skipped_spans"]),
            "(bad input, see warnings)" if summary["skipped_spans"] else "",
        ),
    ]
    if summary["malformed_traces"]:
        rows.append(
            (
                "Malformed",
                num(summary["malformed_traces"]),
                "traces (a parent loop, cut at its earliest span)",
            )
        )
    width = max(len(r[1]) for r in rows)
    lines = ["Summary"] + [f"  {label:<14} {value:>{width}}  {note}".rstrip() for label, value, note in rows]
    if span["start"]:
        lines.append(f"  {'Time range':<14} {span['start']} to {span['end']}")
    lines += ["", "  Trace duration"]
    lines += table(
        ["min", "mean", "p50", "p95", "p99", "max"],
        [[duration_text(stats[k]) for k in ("min_ms", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms")]],
        right=range(6),
        indent="    ",
    )
    return [*lines, ""]


def _bottlenecks(rows: list[Bottleneck], threshold: float, verbose: bool) -> list[str]:
    lines = [f"Bottlenecks (spans with self time over {threshold:g}% of their trace)"]
    if not rows:
        return [*lines, "  none found", ""]
    for rank, row in enumerate(rows, start=1):
        pattern = row["pattern"] if verbose else shorten(row["pattern"], PATTERN_WIDTH)
        self_time = duration_text(row["mean_self_time_ms"])
        line = (
            f"  {rank:>2}. {row['service']}.{row['operation']} - Self time: {self_time} "
            f"({row['mean_share_pct']:.0f}% of trace) - Occurrences: {num(row['occurrences'])}/"
            f"{num(row['trace_count'])} traces"
        )
        lines.append(line + (f" - Pattern: {pattern}" if pattern else ""))
    return [*lines, ""]


def _critical_paths(summary: list[CriticalPathShare], paths: list[CriticalPath], verbose: bool) -> list[str]:
    lines = ["Critical path (time on the critical path, summed over traces)"]
    if not summary:
        return [*lines, "  no traces", ""]
    lines += table(
        ["SERVICE", "OPERATION", "TOTAL", "SHARE", "TRACES"],
        [
            [
                r["service"],
                r["operation"],
                duration_text(r["total_ms"]),
                pct_text(r["share_pct"]),
                num(r["trace_count"]),
            ]
            for r in summary
        ],
        right=(2, 3, 4),
    )
    lines += ["", "  Slowest traces"]
    for path in paths:
        roots = path["root_count"]
        several = f" over {roots} roots (one path per root, summed)" if roots > 1 else ""
        lines.append(
            f"    {path['trace_id']}  {duration_text(path['total_duration_ms']):>10}  "
            f"critical path {duration_text(path['critical_path_duration_ms'])}{several}"
        )
        if verbose:
            lines += table(
                ["SERVICE", "OPERATION", "SPAN", "DURATION", "ON PATH"],
                [
                    [
                        s["service"],
                        s["operation"],
                        s["span_id"],
                        duration_text(s["duration_ms"]),
                        duration_text(s["critical_ms"]),
                    ]
                    for s in path["spans"]
                ],
                right=(3, 4),
                indent="      ",
            )
    return [*lines, ""]


def _errors(errors: Errors, verbose: bool) -> list[str]:
    lines = [
        f"Errors: {num(errors['error_traces'])} of {num(errors['trace_count'])} traces "
        f"({pct_text(errors['error_rate'], 2)})"
    ]
    if not errors["patterns"]:
        return [*lines, "  no errors", ""]
    headers = ["CLASS", "SERVICE", "OPERATION", "COUNT", "SHARE", "MESSAGE"]
    rows = [
        [
            p["classification"],
            p["service"],
            p["operation"],
            num(p["count"]),
            pct_text(p["share_pct"]),
            p["message"] if verbose else shorten(p["message"], 60),
        ]
        for p in errors["patterns"]
    ]
    if verbose:
        headers.append("EXAMPLE TRACE")
        for row, p in zip(rows, errors["patterns"], strict=True):
            row.append(p["example_traces"][0] if p["example_traces"] else "")
    lines += table(headers, rows, right=(3, 4))
    if verbose:
        lines += ["", "  By service"]
        lines += table(
            ["SERVICE", "ERRORS", "ORIGINATING", "PROPAGATED", "HANDLED", "TOP MESSAGE"],
            [
                [
                    name,
                    num(s["count"]),
                    num(s["originating"]),
                    num(s["propagated"]),
                    num(s["handled"]),
                    next(iter(s["messages"]), ""),
                ]
                for name, s in errors["by_service"].items()
            ],
            right=(1, 2, 3, 4),
            indent="    ",
        )
    return [*lines, ""]


def _diagnosis(diagnosis: Diagnosis) -> list[str]:
    """An incident note: the most likely origin and why, then the next suspects."""
    lines = [
        f"Diagnosis ({num(diagnosis['current_traces'])} traces against {num(diagnosis['baseline_traces'])} "
        "before)"
    ]
    suspects = diagnosis["suspects"]
    if not suspects:
        return [*lines, "  nothing changed enough to point at a service", ""]
    for rank, suspect in enumerate(suspects, start=1):
        where = suspect["service"] + (f" {suspect['operation']}" if suspect["operation"] else "")
        head = "Most likely origin:" if rank == 1 else f"{rank}."
        lines.append(f"  {head} {where} (score {suspect['score']:.2f})")
        for reason in suspect["reasons"][: 4 if rank == 1 else 2]:
            lines.append(f"      - {reason}")
    return [*lines, ""]


_INSIGHT_NAMES = {
    "n_plus_one": "N+1",
    "sequential_calls": "sequential calls",
    "retry_storm": "retry storm",
    "cascading_timeout": "cascading timeout",
}


def _insights(rows: list[Insight], verbose: bool) -> list[str]:
    lines = ["Insights (patterns that cost time; where the calls are made)"]
    if not rows:
        return [*lines, "  none found", ""]
    headers = ["PATTERN", "SERVICE", "OPERATION", "TARGET", "TRACES", "SHARE", "CALLS", "TIME", "SAVING"]
    table_rows = [
        [
            _INSIGHT_NAMES.get(row["kind"], row["kind"]),
            row["service"],
            row["operation"],
            row["target"] if verbose else shorten(row["target"], 48),
            num(row["trace_count"]),
            pct_text(row["share_pct"]),
            f"{row['evidence']['calls']:g}",
            duration_text(row["evidence"]["total_ms"]),
            duration_text(row["evidence"]["saving_ms"]) if row["evidence"]["saving_ms"] else "-",
        ]
        for row in rows
    ]
    if verbose:
        headers.append("EXAMPLE TRACE")
        for table_row, row in zip(table_rows, rows, strict=True):
            table_row.append(row["example_traces"][0] if row["example_traces"] else "")
    return [*lines, *table(headers, table_rows, right=(4, 5, 6, 7, 8)), ""]


def _dependencies(deps: Dependencies, verbose: bool) -> list[str]:
    lines = ["Service dependencies"]
    edges = deps["edges"]
    if edges:
        lines += table(
            ["CALLER", "CALLEE", "CALLS", "ERRORS", "TYPE"],
            [
                [e["parent"], e["child"], num(e["call_count"]), num(e["error_count"]), e["connection_type"]]
                for e in edges
            ],
            right=(2, 3),
        )
    else:
        lines.append("  no calls between services found")
    lines += ["", "  Services"]
    lines += table(
        ["SERVICE", "CALLS", "AVG DURATION", "ERROR RATE"],
        [
            [
                name,
                num(s["call_count"]),
                duration_text(s["avg_duration_ms"] if s["call_count"] else None),
                pct_text(s["error_rate"] if s["call_count"] else None, 2),
            ]
            for name, s in deps["services"].items()
        ],
        right=(1, 2, 3),
        indent="    ",
    )
    return [*lines, ""]


def _direction(change: Change, unit: str, fmt: Callable[[float], str]) -> str:
    current, baseline, change_pct = change["current"], change["baseline"], change["change_pct"]
    if current == baseline:
        return f"{fmt(current)}{unit}, unchanged"
    word = "down" if current < baseline else "up"
    delta = f" ({change_pct:+.1f}%)" if change_pct is not None else ""
    return f"{fmt(current)}{unit}, {word} from {fmt(baseline)}{unit}{delta}"


def _comparison(comparison: Comparison) -> list[str]:
    changes = comparison["changes"]
    lines = ["Compared with the baseline"]
    rows = [
        ("Traces", _direction(changes["trace_count"], "", num)),
        ("Error rate", _direction(changes["error_rate"], "%", lambda v: f"{v:.2f}")),
        ("Mean", _direction(changes["mean_ms"], "", duration_text)),
        ("p50", _direction(changes["p50_ms"], "", duration_text)),
        ("p95", _direction(changes["p95_ms"], "", duration_text)),
        ("p99", _direction(changes["p99_ms"], "", duration_text)),
    ]
    lines += [f"  {label:<11} {text}" for label, text in rows]
    if changes["bottlenecks"]:
        lines += ["", "  Bottlenecks, largest change in self time per trace first"]
        lines += table(
            ["STATUS", "SERVICE", "OPERATION", "IN TRACES", "SELF TIME (MEAN)", "PER TRACE"],
            [
                [
                    b["status"],
                    b["service"],
                    b["operation"],
                    _before_after(b["baseline"], b["current"], "occurrence_rate", pct_text),
                    _before_after(b["baseline"], b["current"], "mean_self_time_ms", duration_text),
                    _signed(b["self_time_per_trace_change_ms"]),
                ]
                for b in changes["bottlenecks"]
            ],
            right=(3, 4, 5),
            indent="    ",
        )
    if changes["error_patterns"]:
        lines += ["", "  Error patterns, largest change in count per trace first"]
        lines += table(
            ["STATUS", "CLASS", "SERVICE", "OPERATION", "BEFORE", "NOW", "MESSAGE"],
            [
                [
                    e["status"],
                    e["classification"],
                    e["service"],
                    e["operation"],
                    num(e["baseline_count"]),
                    num(e["current_count"]),
                    shorten(e["message"], 60),
                ]
                for e in changes["error_patterns"]
            ],
            right=(4, 5),
            indent="    ",
        )
    return [*lines, ""]


def _before_after(
    before: BottleneckSide, after: BottleneckSide, key: str, fmt: Callable[[float], str]
) -> str:
    """`before -> after` of one figure, `-` on a side where the operation was no bottleneck."""
    sides = [fmt(side[key]) if side["occurrences"] else "-" for side in (before, after)]  # type: ignore[literal-required]
    return f"{sides[0]} → {sides[1]}"


def _signed(change_ms: float) -> str:
    return ("+" if change_ms > 0 else "") + duration_text(change_ms)
