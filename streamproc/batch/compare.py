"""The before/after comparison (`--baseline`): two reports and their suites in, the `comparison` object out.
Pure."""

from __future__ import annotations

from streamproc.analyze import AnalysisSuite
from streamproc.analyze.schema import BottleneckChange, Change, Changes, Comparison, Report


def _change(baseline: float, current: float) -> Change:
    if baseline == 0:
        change = 0.0 if current == 0 else None
    else:
        change = round((current - baseline) * 100 / baseline, 2)
    return {"baseline": baseline, "current": current, "change_pct": change}


def compare(
    baseline: Report,
    current: Report,
    baseline_suite: AnalysisSuite,
    current_suite: AnalysisSuite,
) -> Comparison:
    """The `comparison` object of the report: both sides' summaries and bottlenecks, and what changed."""
    before, after = baseline["summary"], current["summary"]
    old_stats, new_stats = before["duration_stats"], after["duration_stats"]
    old = baseline_suite.bottlenecks.mean_self_ms()
    new = current_suite.bottlenecks.mean_self_ms()
    rows: list[BottleneckChange] = []
    for key in sorted(old.keys() | new.keys(), key=lambda k: (-max(old.get(k, 0.0), new.get(k, 0.0)), k)):
        both = key in old and key in new
        rows.append(
            {
                "service": key[0],
                "operation": key[1],
                "baseline_ms": old.get(key),
                "current_ms": new.get(key),
                "change_pct": _change(old[key], new[key])["change_pct"] if both else None,
            }
        )
    changes: Changes = {
        "trace_count": _change(before["trace_count"], after["trace_count"]),
        "error_rate": _change(before["error_rate"], after["error_rate"]),
        "mean_ms": _change(old_stats["mean_ms"], new_stats["mean_ms"]),
        "p95_ms": _change(old_stats["p95_ms"], new_stats["p95_ms"]),
        "p99_ms": _change(old_stats["p99_ms"], new_stats["p99_ms"]),
        "bottlenecks": rows,
    }
    return {
        "baseline": {"summary": before, "bottlenecks": baseline.get("bottlenecks", [])},
        "current": {"summary": after, "bottlenecks": current.get("bottlenecks", [])},
        "changes": changes,
    }
