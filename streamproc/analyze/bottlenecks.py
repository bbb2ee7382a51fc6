"""Bottlenecks: spans whose self time is more than a threshold share of their trace's duration.

Aggregated per (service, operation). An occurrence is a trace in which the operation was a bottleneck;
when several of its spans were in one trace, their self times add up to that occurrence's self time and
the pattern comes from the one with the most self time.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from streamproc.analyze.schema import Bottleneck
from streamproc.analyze.stats import PPB
from streamproc.analyze.text import bottleneck_pattern
from streamproc.analyze.tree import TraceTree
from streamproc.units import ms

OperationKey = tuple[str, str]


@dataclass(slots=True)
class BottleneckStats:
    occurrences: int = 0
    self_ns: int = 0
    share_ppb: int = 0
    patterns: Counter[str] = field(default_factory=Counter)

    def merge(self, other: BottleneckStats) -> None:
        self.occurrences += other.occurrences
        self.self_ns += other.self_ns
        self.share_ppb += other.share_ppb
        self.patterns.update(other.patterns)


Bottlenecks = dict[OperationKey, tuple[int, int]]  # (service, operation) -> (self time, index of largest)


@functools.lru_cache(maxsize=16)
def _exact_ratio(threshold_pct: float) -> tuple[int, int]:
    """The threshold as written, as an exact fraction (computed once: Fraction costs microseconds).

    Shares are compared in integers: exactly the threshold is not a bottleneck, whatever float rounding says.
    """
    return Fraction(str(threshold_pct)).as_integer_ratio()


def find_bottlenecks(tree: TraceTree, self_times: list[int], threshold_pct: float) -> Bottlenecks:
    """The operations of one trace whose spans have self time over the threshold share of the trace."""
    numerator, denominator = _exact_ratio(threshold_pct)
    limit = numerator * tree.duration_ns
    scale = 100 * denominator
    found: Bottlenecks = {}
    for index, self_ns in enumerate(self_times):
        if self_ns * scale > limit and self_ns > 0:
            span = tree.spans[index]
            key = (span.service, span.name)
            total, largest = found.get(key, (0, index))
            if self_ns > self_times[largest]:
                largest = index
            found[key] = (total + self_ns, largest)
    return found


class BottleneckAnalyzer:
    def __init__(self) -> None:
        self.trace_count = 0
        self.stats: dict[OperationKey, BottleneckStats] = {}

    def observe(self, tree: TraceTree, found: Bottlenecks) -> None:
        self.trace_count += 1
        duration = tree.duration_ns
        for key, (self_ns, largest) in found.items():
            stats = self.stats.get(key)
            if stats is None:
                stats = self.stats[key] = BottleneckStats()
            stats.occurrences += 1
            stats.self_ns += self_ns
            stats.share_ppb += self_ns * PPB // duration
            stats.patterns[bottleneck_pattern(tree.spans[largest])] += 1

    def merge(self, other: BottleneckAnalyzer) -> None:
        self.trace_count += other.trace_count
        for key, stats in other.stats.items():
            self.stats.setdefault(key, BottleneckStats()).merge(stats)

    def report(self, *, top: int | None = None) -> list[Bottleneck]:
        ranked = sorted(self.stats.items(), key=lambda item: (-item[1].self_ns, item[0]))
        rows: list[Bottleneck] = []
        for (service, operation), stats in ranked[:top]:
            pattern = min(stats.patterns.items(), key=lambda p: (-p[1], p[0]))[0] if stats.patterns else ""
            rows.append(
                {
                    "service": service,
                    "operation": operation,
                    "occurrences": stats.occurrences,
                    "trace_count": self.trace_count,
                    "mean_self_time_ms": ms(stats.self_ns / stats.occurrences),
                    "mean_share_pct": round(stats.share_ppb / stats.occurrences / PPB * 100, 2),
                    "pattern": pattern,
                }
            )
        return rows
