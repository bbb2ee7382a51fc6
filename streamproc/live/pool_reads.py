"""The reads of `serve --workers N` (`live.workers`): each worker asked, the answers merged into what one
process would answer (report windows and diagnosis statistics as the batch path merges suites, retained
traces put together), and `/metrics` with counters that never go down."""

from __future__ import annotations

import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from streamproc.analyze.diagnosis import DiagnosisStats
from streamproc.analyze.filters import TraceFilter
from streamproc.errors import Unavailable
from streamproc.live.analysis import AnalysisReads
from streamproc.live.metrics import Scrape, retained_metrics, self_metrics
from streamproc.live.pipeline import PipelineStats
from streamproc.live.retained import RetainedTrace
from streamproc.live.settings import Settings
from streamproc.live.windows import WindowSnapshot
from streamproc.units import seconds_to_ns


class PoolReads(AnalysisReads):
    """The reads of `AnalysisReads`, answered by asking every worker (or a trace's owner) and merging."""

    settings: Settings

    @abstractmethod
    def _ask_all(self, name: str, args: tuple[Any, ...], *, default: Any) -> list[Any]:
        """Every live worker's answer to the read `name` (`default` for one that did not answer)."""

    @abstractmethod
    def _ask_owner(self, trace_id: bytes, name: str, args: tuple[Any, ...]) -> Any:
        """The answer of the worker that owns the trace (None if it did not answer)."""

    @property
    def retention_ns(self) -> int:
        return seconds_to_ns(self.settings.report_retention)

    def wall_ns(self) -> int:
        return time.time_ns()

    def window_snapshot(self, *, window_ns: int, rules: TraceFilter | None) -> WindowSnapshot:
        parts: list[WindowSnapshot] = [
            s for s in self._ask_all("window", (window_ns, rules), default=None) if s is not None
        ]
        if not parts:
            raise Unavailable("workers", "no worker process answered; try again")
        first = parts[0]
        recent = None if first.recent is None else [tree for part in parts for tree in part.recent or ()]
        return WindowSnapshot(
            first.options,
            [bucket for part in parts for bucket in part.buckets],
            recent,
            first.asked_ns,
            first.window_ns,
            max(part.now_ns for part in parts),
            first.rules,
            all(part.complete for part in parts),
        )

    def diagnosis_sides(
        self, *, window_ns: int, baseline_ns: int
    ) -> tuple[int, DiagnosisStats, DiagnosisStats]:
        before, after, now = DiagnosisStats(), DiagnosisStats(), 0
        for part in self._ask_all("diagnosis", (window_ns, baseline_ns), default=None):
            if part is not None:
                now = max(now, part[0])
                before.merge(part[1])
                after.merge(part[2])
        return now or self.wall_ns(), before, after

    def retained_snapshot(self) -> list[RetainedTrace]:
        parts: list[list[RetainedTrace]] = self._ask_all("retained", (), default=[])
        entries = [entry for part in parts for entry in part]
        return sorted(entries, key=lambda entry: entry.completed_ns)

    def retained_trace(self, trace_id: bytes) -> RetainedTrace | None:
        found: RetainedTrace | None = self._ask_owner(trace_id, "trace", (trace_id,))
        return found


class NeverLower:
    """Counters and histograms shown at least at the value shown before: a worker's death may lose the
    increments since its last scrape, and a sum that goes down would read as a reset to Prometheus."""

    def __init__(self) -> None:
        self._floor: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._lock = threading.Lock()

    def apply(self, families: list[Metric]) -> list[Metric]:
        with self._lock:
            for family in families:
                if family.type not in ("counter", "histogram"):
                    continue
                kept = []
                for sample in family.samples:
                    key = (sample.name, tuple(sorted(sample.labels.items())))
                    value = max(sample.value, self._floor.get(key, 0.0))
                    self._floor[key] = value
                    kept.append(sample._replace(value=value))
                family.samples = kept
        return families


class PoolCollector(Collector):
    """`/metrics` of the pool: the merged scrape, the self-metrics of the merged counts, never lower."""

    def __init__(self, scrape: Callable[[], Scrape], stats: Callable[[], PipelineStats]) -> None:
        self._scrape = scrape
        self._stats = stats
        self._floors = NeverLower()

    def collect(self) -> Iterator[Metric]:
        scrape = self._scrape()
        families = [
            *scrape.families,
            *self_metrics(self._stats(), scrape.overflow, scrape.windows),
            *retained_metrics(scrape.retained),
        ]
        yield from self._floors.apply(families)
