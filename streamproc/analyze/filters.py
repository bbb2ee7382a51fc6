"""Trace filters for reports: time range, absolute bounds, latency, service, errors only. Pure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from streamproc.analyze.schema import Filters
from streamproc.analyze.tree import TraceTree
from streamproc.pickling import frozen_reduce
from streamproc.units import NS_PER_MS, NS_PER_S, iso_time


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceFilter:
    time_range_ns: int | None = None  # keep traces starting within this span before the newest trace's start
    since_ns: int | None = None  # keep traces starting at or after
    until_ns: int | None = None  # keep traces starting before
    latency_threshold_ms: float | None = None  # keep traces slower than this
    service: str | None = None  # keep traces in which this service has a span
    errors_only: bool = False

    def problems(self) -> list[str]:
        found = []
        if self.time_range_ns is not None and self.time_range_ns <= 0:
            found.append("--time-range must be positive")
        if self.latency_threshold_ms is not None and self.latency_threshold_ms < 0:
            found.append("--latency-threshold cannot be negative")
        if self.since_ns is not None and self.until_ns is not None and self.until_ns <= self.since_ns:
            found.append("--until must be later than --since")
        return found

    @property
    def active(self) -> bool:
        return self != TraceFilter()

    def report(self) -> Filters:
        """The report's `filters` object."""
        return {
            "time_range": None if self.time_range_ns is None else self.time_range_ns / NS_PER_S,
            "since": None if self.since_ns is None else iso_time(self.since_ns),
            "until": None if self.until_ns is None else iso_time(self.until_ns),
            "latency_threshold_ms": self.latency_threshold_ms,
            "service": self.service,
            "errors_only": self.errors_only,
        }

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return frozen_reduce(self)


def filter_trees(trees: Sequence[TraceTree], rules: TraceFilter) -> list[TraceTree]:
    """The trees that pass every rule, in their original order."""
    if not rules.active or not trees:
        return list(trees)
    since = rules.since_ns
    if rules.time_range_ns is not None:
        newest = max(tree.start_ns for tree in trees)
        cutoff = newest - rules.time_range_ns
        since = cutoff if since is None else max(since, cutoff)
    threshold_ns = None if rules.latency_threshold_ms is None else rules.latency_threshold_ms * NS_PER_MS
    kept = []
    for tree in trees:
        if since is not None and tree.start_ns < since:
            continue
        if rules.until_ns is not None and tree.start_ns >= rules.until_ns:
            continue
        if threshold_ns is not None and not tree.duration_ns > threshold_ns:
            continue
        if rules.errors_only and not tree.is_error:
            continue
        if rules.service is not None and all(span.service != rules.service for span in tree.spans):
            continue
        kept.append(tree)
    return kept
