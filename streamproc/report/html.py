"""The HTML report (`analyze-traces --html`, live `GET /report`): one self-contained page from a report.

Inline CSS and SVG only: no script, font or image from anywhere, so it works offline, from a file:// URL
and as an e-mail attachment. Light and dark follow the reader's colour scheme; each section prints on a
page of its own. Every colour has a text beside it saying the same (rates, statuses, "error").
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from streamproc import __version__
from streamproc.analyze.schema import Comparison, CriticalPath, Diagnosis, Errors, Insight, Report, Summary
from streamproc.report.service_map import service_map
from streamproc.report.svg import Bar, bar_chart, histogram_chart, waterfall
from streamproc.report.table import duration_text, num, pct_text

MAX_BARS = 25  # rows per chart; the rest is counted
WATERFALLS = 5  # slowest traces drawn

_CSS = """
:root{--bg:#fff;--fg:#1b2128;--muted:#5d6873;--line:#d5dbe1;--panel:#f4f6f8;--bar:#3d6fb4;--bar2:#a9bfdf;
--crit:#c2410c;--ok:#2f855a;--warn:#b7791f;--bad:#c53030;--edge:#8795a1;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#14181d;--fg:#e4e8ec;--muted:#9aa5b1;--line:#36404a;
--panel:#1d232a;--bar:#6d9ee0;--bar2:#3c5478;--crit:#f08a4b;--ok:#68d391;--warn:#f6c453;--bad:#fc8181;
--edge:#7c8a97}}
body{margin:0 auto;max-width:1000px;padding:1rem 1.5rem 3rem;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.15rem;margin:0 0 .5rem;border-bottom:1px solid var(--line)}
h3{font-size:1rem;margin:1rem 0 .25rem}
nav a{margin-right:1rem;color:var(--bar)}.muted,footer{color:var(--muted)}
section{margin:1.75rem 0;break-inside:avoid-page}figure{margin:.5rem 0 1rem}
figcaption{color:var(--muted);font-size:.9rem}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(8.5rem,1fr));gap:.6rem}
.tile{background:var(--panel);border-radius:6px;padding:.45rem .7rem}
.tile b{display:block;font-size:1.25rem}.tile small{color:var(--muted)}
table{border-collapse:collapse;margin:.5rem 0}th,td{padding:.15rem .6rem;text-align:left;
border-bottom:1px solid var(--line)}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}svg{display:block;max-width:100%;height:auto}svg.map{max-width:none}
svg text{fill:var(--fg);font-size:12px;font-family:inherit}
svg .tick,svg .muted,svg .node-note{fill:var(--muted);font-size:11px}
svg .grid{stroke:var(--line);stroke-width:1}svg .axis{stroke:var(--muted)}
svg .bar,svg .bin{fill:var(--bar)}svg .bar.before{fill:var(--bar2)}
svg .bar.first{fill:var(--crit)}
svg .bar.originating{fill:var(--bad)}svg .bar.propagated{fill:var(--warn)}svg .bar.handled{fill:var(--ok)}
svg .baseline{fill:none;stroke:var(--crit);stroke-width:2;stroke-dasharray:5 3}
svg .marker{stroke:var(--fg);stroke-width:1;stroke-dasharray:2 2}
svg .threshold{stroke:var(--bad);stroke-width:2;stroke-dasharray:6 3}svg .threshold-label{fill:var(--bad)}
svg .span{fill:var(--bar2)}svg .span.error{stroke:var(--bad);stroke-width:2}svg .critical{fill:var(--crit)}
svg .edge polyline{fill:none;stroke:var(--edge)}
svg .edge.warn polyline{stroke:var(--warn);stroke-dasharray:8 3}
svg .edge.bad polyline{stroke:var(--bad);stroke-dasharray:3 3}svg .arrowhead{fill:var(--edge)}
svg .warn .arrowhead{fill:var(--warn)}svg .bad .arrowhead{fill:var(--bad)}
svg .edge-label{font-size:10.5px;paint-order:stroke;stroke:var(--bg);stroke-width:4px}
svg .node rect{fill:var(--panel);stroke:var(--ok);stroke-width:1.5}svg .node.warn rect{stroke:var(--warn)}
svg .node.bad rect{stroke:var(--bad);stroke-width:3}svg .node.virtual rect{stroke-dasharray:4 3}
svg .node-name{font-weight:600}
.status-new,.status-grew{color:var(--bad)}.status-gone,.status-shrank{color:var(--ok)}
@media print{nav{display:none}section{break-before:page}section:first-of-type{break-before:auto}
body{max-width:none}}
"""


def render_html(report: Report, *, title: str, subtitle: str = "", threshold_ms: float = 500.0) -> str:
    """The whole page. Sections appear as the report has them; `threshold_ms` is the latency alert line."""
    parts = [_summary(report["summary"], report.get("comparison"))]
    if "diagnosis" in report:
        parts.append(_diagnosis(report["diagnosis"]))
    if "dependencies" in report:
        parts.append(
            _section(
                "service-map",
                "Service map",
                [
                    '<div class="scroll">',
                    service_map(report["dependencies"]),
                    "</div>",
                    '<p class="muted">Arrows point from caller to callee; width grows with calls. '
                    "Edge colour and dashes: under 1 % errors plain, 1 to 5 % dashed, 5 % and more red "
                    "and dotted. Dashed boxes are uninstrumented peers (databases, queues, external "
                    "services).</p>",
                ],
            )
        )
    parts.append(_latency(report, threshold_ms))
    if "bottlenecks" in report:
        parts.append(_bottlenecks(report))
    if "critical_paths" in report:
        parts.append(_critical_paths(report["critical_paths"], report.get("critical_path_summary", [])))
    if "errors" in report:
        parts.append(_errors(report["errors"]))
    if "insights" in report:
        parts.append(_insights(report["insights"]))
    if "comparison" in report:
        parts.append(_comparison(report["comparison"]))
    links = " ".join(f'<a href="#{key}">{name}</a>' for key, name in _nav(report))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{escape(title)}</h1><p class="muted">{escape(subtitle)}</p><nav>{links}</nav></header>'
        f"<main>{''.join(parts)}</main>"
        f"<footer>streamproc {escape(__version__)}</footer></body></html>\n"
    )


def _nav(report: Report) -> list[tuple[str, str]]:
    keys = [
        ("summary", "Summary", True),
        ("diagnosis", "Diagnosis", "diagnosis" in report),
        ("service-map", "Service map", "dependencies" in report),
        ("latency", "Latency", True),
        ("bottlenecks", "Bottlenecks", "bottlenecks" in report),
        ("critical-path", "Critical path", "critical_paths" in report),
        ("errors", "Errors", "errors" in report),
        ("insights", "Insights", "insights" in report),
        ("comparison", "Before / after", "comparison" in report),
    ]
    return [(key, name) for key, name, present in keys if present]


def _section(key: str, heading: str, body: Sequence[str]) -> str:
    return f'<section id="{key}"><h2>{escape(heading)}</h2>{"".join(body)}</section>'


def _more(total: int) -> str:
    return (
        f'<p class="muted">and {total - MAX_BARS:,} more (the JSON report has them all)</p>'
        if total > MAX_BARS
        else ""
    )


def _summary(summary: Summary, comparison: Comparison | None) -> str:
    stats = summary["duration_stats"]
    changes = comparison["changes"] if comparison else None
    tiles = [
        ("Traces", num(summary["trace_count"]), None),
        ("Spans", num(summary["span_count"]), None),
        ("Error rate", pct_text(summary["error_rate"], 2), "error_rate"),
        ("p50", duration_text(stats["p50_ms"]), "p50_ms"),
        ("p95", duration_text(stats["p95_ms"]), "p95_ms"),
        ("p99", duration_text(stats["p99_ms"]), "p99_ms"),
        ("Max", duration_text(stats["max_ms"]), None),
    ]
    html = []
    for name, value, key in tiles:
        note = ""
        if changes is not None and key is not None:
            change = changes[key]  # type: ignore[literal-required]
            before = (
                pct_text(change["baseline"], 2) if key == "error_rate" else duration_text(change["baseline"])
            )
            moved = "" if change["change_pct"] is None else f" ({change['change_pct']:+.1f} %)"
            note = f"<small>baseline {before}{moved}</small>"
        html.append(f'<div class="tile">{escape(name)}<b>{escape(value)}</b>{note}</div>')
    span = summary["time_range"]
    lines = [
        f'<div class="tiles">{"".join(html)}</div>',
        f'<p class="muted">Traces from {escape(span["start"] or "-")} to {escape(span["end"] or "-")}.',
    ]
    if summary["skipped_spans"]:
        lines.append(f" {num(summary['skipped_spans'])} spans skipped as invalid.")
    if summary["malformed_traces"]:
        lines.append(f" {num(summary['malformed_traces'])} traces had parent loops, cut to analyze them.")
    lines.append("</p>")
    return _section("summary", "Summary", lines)


def _latency(report: Report, threshold_ms: float) -> str:
    summary = report["summary"]
    stats = summary["duration_stats"]
    comparison = report.get("comparison")
    baseline = comparison["baseline"]["summary"]["duration_histogram"] if comparison else None
    if not summary["duration_histogram"]:
        return _section("latency", "Latency", ["<p>No traces.</p>"])
    over = sum(b["count"] for b in summary["duration_histogram"] if b["le_ms"] > threshold_ms * 1.26)
    chart = histogram_chart(
        summary["duration_histogram"],
        [("p50", stats["p50_ms"]), ("p95", stats["p95_ms"]), ("p99", stats["p99_ms"])],
        threshold_ms,
        baseline=baseline,
    )
    caption = (
        f"p95 {duration_text(stats['p95_ms'])} against the {duration_text(threshold_ms)} line; about "
        f"{num(over)} traces take longer than it."
    )
    if baseline is not None:
        caption += " The dashed outline is the baseline, as a share of its own traces."
    return _section(
        "latency", "Latency", [f"<figure>{chart}<figcaption>{escape(caption)}</figcaption></figure>"]
    )


def _bottlenecks(report: Report) -> str:
    rows = report.get("bottlenecks", [])
    if not rows:
        return _section(
            "bottlenecks", "Bottlenecks", ["<p>No span took the bottleneck share of its trace.</p>"]
        )
    bars = [
        Bar(
            f"{r['service']}: {r['operation']}",
            r["occurrences"],
            f"{num(r['occurrences'])} traces · self {duration_text(r['mean_self_time_ms'])} "
            f"({r['mean_share_pct']:.0f} %)",
        )
        for r in rows[:MAX_BARS]
    ]
    return _section(
        "bottlenecks",
        "Bottlenecks",
        [
            '<p class="muted">Operations whose own time (without their children) took the bottleneck '
            "share of a trace: in how many traces, their mean self time and share.</p>",
            bar_chart(bars, "Bottlenecks by traces in which they dominate"),
            _more(len(rows)),
        ],
    )


def _critical_paths(paths: list[CriticalPath], shares: list) -> str:  # type: ignore[type-arg]
    body = []
    if shares:
        bars = [
            Bar(
                f"{s['service']}: {s['operation']}",
                s["share_pct"],
                f"{s['share_pct']:.1f} % · {duration_text(s['total_ms'])}",
            )
            for s in shares[:MAX_BARS]
        ]
        body += [
            "<h3>Share of all critical-path time</h3>",
            bar_chart(bars, "Critical path time by operation"),
            _more(len(shares)),
        ]
    for path in paths[:WATERFALLS]:
        caption = (
            f"Trace {path['trace_id']}: {duration_text(path['total_duration_ms'])}, "
            f"{num(path['span_count'])} spans, {len(path['spans'])} on the critical path (dark)."
        )
        body.append(
            f'<figure class="waterfall-figure">{waterfall(path)}<figcaption>{escape(caption)}'
            "</figcaption></figure>"
        )
    if paths:
        body.insert(len(body) - min(len(paths), WATERFALLS), "<h3>The slowest traces</h3>")
    return _section("critical-path", "Critical path", body or ["<p>No traces.</p>"])


def _errors(errors: Errors) -> str:
    body = [
        f"<p>{num(errors['error_traces'])} of {num(errors['trace_count'])} traces "
        f"({pct_text(errors['error_rate'], 2)}) have an erroring span.</p>"
    ]
    for kind, meaning in (
        ("originating", "where errors start"),
        ("propagated", "passed on from a callee"),
        ("handled", "failed below, yet the caller succeeded"),
    ):
        rows = [p for p in errors["patterns"] if p["classification"] == kind]
        if not rows:
            continue
        bars = [
            Bar(
                f"{p['service']}: {p['operation']} · {p['message']}",
                p["count"],
                f"{num(p['count'])} ({p['share_pct']:.1f} %)",
                f"bar {kind}",
            )
            for p in rows[:MAX_BARS]
        ]
        body += [
            f"<h3>{kind.capitalize()}: {meaning}</h3>",
            bar_chart(bars, f"{kind} error patterns", label_chars=70),
            _more(len(rows)),
        ]
    if not errors["patterns"]:
        body.append("<p>No errors.</p>")
    return _section("errors", "Errors", body)


def _diagnosis(diagnosis: Diagnosis) -> str:
    """The suspects, most likely origin first: a bar of each one's score, and its reasons in words."""
    suspects = diagnosis["suspects"]
    body = [
        f"<p>{num(diagnosis['current_traces'])} traces against {num(diagnosis['baseline_traces'])} before."
        "</p>"
    ]
    if not suspects:
        body.append("<p>Nothing changed enough to point at a service.</p>")
        return _section("diagnosis", "Diagnosis", body)
    bars = [
        Bar(
            f"{rank}. {s['service']} {s['operation']}".rstrip(),
            s["score"],
            f"score {s['score']:.2f}",
            "bar suspect" + (" first" if rank == 1 else ""),
        )
        for rank, s in enumerate(suspects, start=1)
    ]
    body.append(bar_chart(bars, "suspects", label_chars=60))
    items = "".join(
        f"<li><strong>{escape(s['service'])} {escape(s['operation'])}</strong><ul>"
        + "".join(f"<li>{escape(reason)}</li>" for reason in s["reasons"])
        + "</ul></li>"
        for s in suspects
    )
    body.append(f'<ol class="suspects">{items}</ol>')
    return _section("diagnosis", "Diagnosis: where the change most likely started", body)


_INSIGHT_NAMES = {
    "n_plus_one": "N+1",
    "sequential_calls": "Sequential calls",
    "retry_storm": "Retry storm",
    "cascading_timeout": "Cascading timeout",
}


def _insights(rows: list[Insight]) -> str:
    """One bar an insight: its time at stake per occurrence (the saving, else the pattern's time)."""
    if not rows:
        return _section(
            "insights",
            "Insights",
            ["<p>No N+1, sequential calls, retry storm or cascading timeout found.</p>"],
        )
    bars = []
    for row in rows[:MAX_BARS]:
        evidence = row["evidence"]
        at_stake = evidence["saving_ms"] or evidence["total_ms"]
        what = "saving" if evidence["saving_ms"] else "spent"
        bars.append(
            Bar(
                f"{_INSIGHT_NAMES.get(row['kind'], row['kind'])} · {row['service']}: {row['operation']} → "
                f"{row['target']}",
                at_stake,
                f"{duration_text(at_stake)} {what} · {evidence['calls']:g} calls · "
                f"{pct_text(row['share_pct'])} of traces",
                f"bar insight {row['kind']}",
            )
        )
    body = [
        '<p class="muted">Patterns that cost time, where the calls are made; the bar is the time at stake in '
        "one occurrence: what running the calls at once would save, else the time the pattern took.</p>",
        bar_chart(bars, "insights", label_chars=70),
        _more(len(rows)),
    ]
    return _section("insights", "Insights", body)


def _comparison(comparison: Comparison) -> str:
    changes = comparison["changes"]
    body = [
        '<table><tr><th></th><th class="n">baseline</th><th class="n">current</th>'
        '<th class="n">change</th></tr>'
    ]
    for key, name in (
        ("trace_count", "traces"),
        ("error_rate", "error rate"),
        ("mean_ms", "mean"),
        ("p50_ms", "p50"),
        ("p95_ms", "p95"),
        ("p99_ms", "p99"),
    ):
        change = changes[key]  # type: ignore[literal-required]
        fmt = (
            num
            if key == "trace_count"
            else (lambda v: pct_text(v, 2))
            if key == "error_rate"
            else duration_text
        )
        moved = "new" if change["change_pct"] is None else f"{change['change_pct']:+.1f} %"
        body.append(
            f'<tr><td>{name}</td><td class="n">{fmt(change["baseline"])}</td>'
            f'<td class="n">{fmt(change["current"])}</td><td class="n">{moved}</td></tr>'
        )
    body.append("</table>")
    changed = [c for c in changes["bottlenecks"] if c["status"] != "same"][:MAX_BARS]
    if changed:
        bars = []
        for c in changed:
            name = f"{c['service']}: {c['operation']}"
            bars.append(
                Bar(
                    f"{name} (before)",
                    c["baseline"]["occurrence_rate"],
                    f"{c['baseline']['occurrence_rate']:.1f} per 100 traces",
                    "bar before",
                )
            )
            bars.append(
                Bar(
                    f"{name} (after, {c['status']})",
                    c["current"]["occurrence_rate"],
                    f"{c['current']['occurrence_rate']:.1f} per 100 traces · "
                    f"{c['self_time_per_trace_change_ms']:+.1f} ms a trace",
                )
            )
        body += ["<h3>Bottlenecks that changed</h3>", bar_chart(bars, "Bottleneck changes, before and after")]
    patterns = [p for p in changes["error_patterns"] if p["status"] in ("new", "gone", "grew", "shrank")]
    if patterns:
        body.append(
            "<h3>Error patterns that changed</h3><table><tr><th>status</th><th>where</th><th>message</th>"
            '<th>kind</th><th class="n">before</th><th class="n">after</th></tr>'
        )
        for p in patterns[:MAX_BARS]:
            body.append(
                f'<tr><td class="status-{p["status"]}">{p["status"]}</td>'
                f"<td>{escape(p['service'])}: {escape(p['operation'])}</td><td>{escape(p['message'])}</td>"
                f'<td>{p["classification"]}</td><td class="n">{num(p["baseline_count"])}</td>'
                f'<td class="n">{num(p["current_count"])}</td></tr>'
            )
        body.append("</table>")
    return _section("comparison", "Before / after", body)
