"""The before/after comparison (`--baseline`): two reports and their suites in, the `comparison` object out.
Pure."""

from __future__ import annotations

from typing import Any

from streamproc.analyze import AnalysisSuite


def _change(baseline: float, current: float) -> dict[str, float | None]:
    if baseline == 0:
        change = 0.0 if current == 0 else None
    else:
        change = round((current - baseline) * 100 / baseline, 2)
    return {"baseline": baseline, "current": current, "change_pct": change}


def compare(
    baseline: dict[str, Any],
    current: dict[str, Any],
    baseline_suite: AnalysisSuite,
    current_suite: AnalysisSuite,
) -> dict[str, Any]:
    """The `comparison` object of the report: both sides' summaries and bottlenecks, and what changed."""
    before, after = baseline["summary"], current["summary"]
    changes: dict[str, Any] = {
        "trace_count": _change(before["trace_count"], after["trace_count"]),
        "error_rate": _change(before["error_rate"], after["error_rate"]),
    }
    for stat in ("mean_ms", "p95_ms", "p99_ms"):
        changes[stat] = _change(before["duration_stats"][stat], after["duration_stats"][stat])
    old = baseline_suite.bottlenecks.mean_self_ms()
    new = current_suite.bottlenecks.mean_self_ms()
    rows = []
    for key in sorted(old.keys() | new.keys(), key=lambda k: (-max(old.get(k, 0.0), new.get(k, 0.0)), k)):
        row: dict[str, Any] = {
            "service": key[0],
            "operation": key[1],
            "baseline_ms": old.get(key),
            "current_ms": new.get(key),
            "change_pct": None,
        }
        if key in old and key in new:
            row["change_pct"] = _change(old[key], new[key])["change_pct"]
        rows.append(row)
    changes["bottlenecks"] = rows
    return {
        "baseline": {"summary": before, "bottlenecks": baseline.get("bottlenecks", [])},
        "current": {"summary": after, "bottlenecks": current.get("bottlenecks", [])},
        "changes": changes,
    }
