"""Batch wiring: read trace files, decode, group into traces, filter, analyze, compare."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamproc.analyze import AnalysisOptions, AnalysisSuite, TraceTree, build_tree
from streamproc.decode import DecodeResult, Format, decode_bytes, group_traces
from streamproc.errors import InputError
from streamproc.filters import TraceFilter, filter_trees
from streamproc.model import SkippedSpan

Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]


def no_progress(items: Iterable[Any], _label: str, _total: int) -> Iterable[Any]:
    return items


@dataclass(slots=True)
class SourceReport:
    """What one input held: its format, the spans kept and the spans skipped in it."""

    source: str
    format: Format
    span_count: int
    skipped: list[SkippedSpan]


def skipped_warning(where: str, kept: int, skipped: list[SkippedSpan]) -> str | None:
    """One line for the user: how many spans of `where` were skipped, why, and the first of them."""
    if not skipped:
        return None
    reasons = Counter(s.reason.value for s in skipped)
    first = skipped[0]
    ids = ", ".join(
        part
        for part in (
            f"trace {first.trace_id}" if first.trace_id else "",
            f"span {first.span_id}" if first.span_id else "",
        )
        if part
    )
    summary = ", ".join(f"{n:,} {reason}" for reason, n in reasons.most_common())
    return (
        f"{where}: skipped {len(skipped):,} of {kept + len(skipped):,} spans "
        f"({summary}); first: {ids + ': ' if ids else ''}{first.detail}"
    )


@dataclass(slots=True)
class LoadedTraces:
    trees: list[TraceTree] = field(default_factory=list)
    sources: list[SourceReport] = field(default_factory=list)
    duplicates: list[SkippedSpan] = field(default_factory=list)  # span ids repeated within a trace, any input
    span_count: int = 0  # spans decoded from all inputs, duplicates included

    @property
    def skipped(self) -> int:
        """Every span skipped: bad spans in the inputs plus repeated span ids."""
        return sum(len(s.skipped) for s in self.sources) + len(self.duplicates)

    def warnings(self) -> list[str]:
        """One line per input with skipped spans, and one for duplicates across all inputs."""
        found = [skipped_warning(s.source, s.span_count, s.skipped) for s in self.sources]
        kept = self.span_count - len(self.duplicates)  # span_count includes the duplicates themselves
        found.append(skipped_warning("all inputs", kept, self.duplicates))
        return [line for line in found if line]


def read_source(source: str) -> bytes:
    """The bytes of a file, or of standard input for `-`; InputError naming the file when unreadable."""
    if source == "-":
        return sys.stdin.buffer.read()
    path = Path(source)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(source, "no such file") from None
    except IsADirectoryError:
        raise InputError(source, "is a directory, not a trace file") from None
    except PermissionError:
        raise InputError(source, "permission denied") from None
    except OSError as exc:
        raise InputError(source, exc.strerror or str(exc)) from None


def load(
    sources: Sequence[str],
    *,
    forced: Format | None = None,
    read: Callable[[str], bytes] = read_source,
    progress: Progress = no_progress,
) -> LoadedTraces:
    """Decode every input and group all their spans by trace id (a trace may span files and lines)."""
    decoded = []
    for source in progress(sources, "reading", len(sources)):
        name = "<stdin>" if source == "-" else source
        fmt, result = decode_bytes(read(source), name, forced)
        decoded.append((name, fmt, result))
    return assemble(decoded, progress)


def assemble(
    decoded: Sequence[tuple[str, Format, DecodeResult]], progress: Progress = no_progress
) -> LoadedTraces:
    """The traces of decoded inputs: (source name, format, what it held) each, grouped across inputs."""
    combined = DecodeResult()
    for _, _, result in decoded:
        combined.extend(result)
    traces, duplicates = group_traces(combined.spans)
    trees = [build_tree(trace) for trace in progress(traces, "indexing", len(traces))]
    reports = [SourceReport(name, fmt, len(result.spans), result.skipped) for name, fmt, result in decoded]
    return LoadedTraces(trees, reports, duplicates, len(combined.spans))


#: How a list of traces becomes a suite: in this process (`analyze_trees`), or in workers (`forked`).
TreeAnalysis = Callable[[list[TraceTree], AnalysisOptions, Progress], AnalysisSuite]


def analyze_trees(
    trees: list[TraceTree], options: AnalysisOptions, progress: Progress = no_progress
) -> AnalysisSuite:
    """The suite over `trees`, in this process, one trace after another."""
    suite = AnalysisSuite(options)
    for tree in progress(trees, "analyzing", len(trees)):
        suite.observe_tree(tree)
    return suite


def analyze(
    loaded: LoadedTraces,
    rules: TraceFilter,
    options: AnalysisOptions,
    progress: Progress = no_progress,
    run: TreeAnalysis = analyze_trees,
) -> AnalysisSuite:
    """The suite over the traces that pass `rules`."""
    return run(filter_trees(loaded.trees, rules), options, progress)


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
