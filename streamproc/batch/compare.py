"""The before/after comparison (`--baseline`, DESIGN sections 5 and 6): two suites and their reports in,
the `comparison` object out. Pure.

Each side is judged per trace, so samples of different sizes compare: a bottleneck by its occurrences per
100 traces and its total self time per trace, an error pattern by its count per trace. A change within
`SAME_BAND` of the baseline is `same`; an entry on one side only is `new` or `gone`. Lists are ranked by
the size of the change, largest first.
"""

from __future__ import annotations

from streamproc.analyze import AnalysisSuite
from streamproc.analyze.bottlenecks import BottleneckStats
from streamproc.analyze.schema import (
    BottleneckChange,
    BottleneckSide,
    Change,
    Changes,
    Comparison,
    ErrorPatternChange,
    Report,
)
from streamproc.analyze.stats import PPB, pct
from streamproc.units import ms

#: Relative change below which an entry on both sides counts as `same`.
SAME_BAND = 0.10


def _change(baseline: float, current: float) -> Change:
    if baseline == 0:
        change = 0.0 if current == 0 else None
    else:
        change = round((current - baseline) * 100 / baseline, 2)
    return {"baseline": baseline, "current": current, "change_pct": change}


def status(baseline: float, current: float) -> str:
    """new, gone, grew, shrank or same: how a per-trace figure moved from `baseline` to `current`."""
    if baseline == 0:
        return "same" if current == 0 else "new"
    if current == 0:
        return "gone"
    if current > baseline * (1 + SAME_BAND):
        return "grew"
    if current < baseline * (1 - SAME_BAND):
        return "shrank"
    return "same"


def compare(
    baseline: Report,
    current: Report,
    baseline_suite: AnalysisSuite,
    current_suite: AnalysisSuite,
    *,
    top: int | None = None,
) -> Comparison:
    """The `comparison` object of the report: both sides' summaries and bottlenecks, and what changed."""
    before, after = baseline["summary"], current["summary"]
    old_stats, new_stats = before["duration_stats"], after["duration_stats"]
    changes: Changes = {
        "trace_count": _change(before["trace_count"], after["trace_count"]),
        "error_rate": _change(before["error_rate"], after["error_rate"]),
        "mean_ms": _change(old_stats["mean_ms"], new_stats["mean_ms"]),
        "p50_ms": _change(old_stats["p50_ms"], new_stats["p50_ms"]),
        "p95_ms": _change(old_stats["p95_ms"], new_stats["p95_ms"]),
        "p99_ms": _change(old_stats["p99_ms"], new_stats["p99_ms"]),
        "bottlenecks": _bottleneck_changes(baseline_suite, current_suite)[:top],
        "error_patterns": _error_pattern_changes(baseline_suite, current_suite)[:top],
    }
    return {
        "baseline": {"summary": before, "bottlenecks": baseline.get("bottlenecks", [])},
        "current": {"summary": after, "bottlenecks": current.get("bottlenecks", [])},
        "changes": changes,
    }


def _side(stats: BottleneckStats | None, traces: int) -> BottleneckSide:
    if stats is None or not stats.occurrences:
        return {"occurrences": 0, "occurrence_rate": 0.0, "mean_self_time_ms": 0.0, "mean_share_pct": 0.0}
    return {
        "occurrences": stats.occurrences,
        "occurrence_rate": pct(stats.occurrences, traces),
        "mean_self_time_ms": ms(stats.self_ns / stats.occurrences),
        "mean_share_pct": round(stats.share_ppb / stats.occurrences / PPB * 100, 2),
    }


def _bottleneck_changes(baseline: AnalysisSuite, current: AnalysisSuite) -> list[BottleneckChange]:
    old, new = baseline.bottlenecks, current.bottlenecks
    rows: list[tuple[float, BottleneckChange]] = []
    for key in sorted(old.stats.keys() | new.stats.keys()):
        before, after = old.stats.get(key), new.stats.get(key)
        per_trace_before = before.self_ns / old.trace_count if before and old.trace_count else 0.0
        per_trace_after = after.self_ns / new.trace_count if after and new.trace_count else 0.0
        change_ms = ms(per_trace_after - per_trace_before)
        row: BottleneckChange = {
            "service": key[0],
            "operation": key[1],
            "status": status(per_trace_before, per_trace_after),
            "baseline": _side(before, old.trace_count),
            "current": _side(after, new.trace_count),
            "self_time_per_trace_change_ms": change_ms,
        }
        rows.append((abs(change_ms), row))
    rows.sort(key=lambda item: -item[0])  # stable: equal changes keep the key order
    return [row for _, row in rows]


def _error_pattern_changes(baseline: AnalysisSuite, current: AnalysisSuite) -> list[ErrorPatternChange]:
    old, new = baseline.errors, current.errors
    rows: list[tuple[float, ErrorPatternChange]] = []
    for key in sorted(old.patterns.keys() | new.patterns.keys(), key=lambda k: (*k[:3], k[3].value)):
        before = old.patterns[key].count if key in old.patterns else 0
        after = new.patterns[key].count if key in new.patterns else 0
        rate_before = before / old.trace_count if old.trace_count else 0.0
        rate_after = after / new.trace_count if new.trace_count else 0.0
        row: ErrorPatternChange = {
            "service": key[0],
            "operation": key[1],
            "message": key[2],
            "classification": key[3].value,
            "status": status(rate_before, rate_after),
            "baseline_count": before,
            "current_count": after,
        }
        rows.append((abs(rate_after - rate_before), row))
    # Equal changes: originating before propagated (where the errors start), then the key order.
    rows.sort(key=lambda item: (-item[0], item[1]["classification"] != "originating"))
    return [row for _, row in rows]
