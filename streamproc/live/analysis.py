"""The live analysis as configured: the pipeline with its sinks (metrics, report windows, retained traces),
the report over a window, the diagnosis, the Jaeger-compatible API and the collector `/metrics` registers.
No threads or sockets: the service adds those, and benchmarks and tests drive it with fake clocks. The
reads are shared with the pool of worker processes (`live.workers`) through `AnalysisReads`."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TypedDict

from streamproc.analyze.diagnosis import DiagnosisStats, diagnose
from streamproc.analyze.filters import TraceFilter
from streamproc.analyze.schema import Diagnosis, Report
from streamproc.analyze.suite import ALL_SECTIONS, AnalysisOptions, Section
from streamproc.live.jaeger_api import DEPENDENCY_SECTIONS, JaegerApi
from streamproc.live.metrics import LiveMetrics, MetricsCollector, Scrape
from streamproc.live.pipeline import Clock, LivePipeline
from streamproc.live.retained import RetainedTrace, RetainedTraces
from streamproc.live.settings import Settings
from streamproc.live.windows import ReportWindows, WindowSnapshot
from streamproc.units import NS_PER_S, iso_time, seconds_to_ns


class DiagnosisWindow(TypedDict):
    seconds: float
    start: str | None
    end: str | None


class LiveDiagnosis(TypedDict):
    """What /api/diagnose answers: the two windows compared, and the diagnosis."""

    window: DiagnosisWindow
    baseline_window: DiagnosisWindow
    diagnosis: Diagnosis


def _span_of(start_ns: int, end_ns: int) -> DiagnosisWindow:
    return {"seconds": (end_ns - start_ns) / NS_PER_S, "start": iso_time(start_ns), "end": iso_time(end_ns)}


class AnalysisReads(ABC):
    """What the HTTP API, the query API and the Jaeger-compatible API read, built on five reads of state
    that one process (`LiveAnalysis`) answers from its sinks and a pool of workers (`live.workers`) by
    asking each worker and merging."""

    @property
    @abstractmethod
    def retention_ns(self) -> int:
        """How far back the report windows reach."""

    @abstractmethod
    def wall_ns(self) -> int:
        """The wall clock the state is read with."""

    @abstractmethod
    def window_snapshot(self, *, window_ns: int, rules: TraceFilter | None) -> WindowSnapshot:
        """The report windows' state over the last `window_ns` (see `ReportWindows.snapshot`)."""

    @abstractmethod
    def diagnosis_sides(
        self, *, window_ns: int, baseline_ns: int
    ) -> tuple[int, DiagnosisStats, DiagnosisStats]:
        """The time read, and the diagnosis statistics of the baseline and of the window."""

    @abstractmethod
    def retained_snapshot(self) -> list[RetainedTrace]:
        """Every retained trace (a copy to query without any lock)."""

    @abstractmethod
    def retained_trace(self, trace_id: bytes) -> RetainedTrace | None:
        """One retained trace by its id."""

    def jaeger_api(self) -> JaegerApi:
        """The Jaeger-compatible read API over the retained traces (and the report's dependencies)."""
        return JaegerApi(
            snapshot=self.retained_snapshot,
            dependencies=lambda window_ns: self.report(window_ns=window_ns, sections=DEPENDENCY_SECTIONS),
            now_ns=self.wall_ns,
        )

    def diagnose(self, *, window_ns: int, baseline_ns: int, service: str | None = None) -> LiveDiagnosis:
        """The last `window_ns` against the `baseline_ns` before it (DESIGN section 11); the buckets are
        copied under the pipeline's lock and compared without it."""
        window_ns = min(window_ns, self.retention_ns)
        baseline_ns = max(0, min(baseline_ns, self.retention_ns - window_ns))
        now_ns, before, after = self.diagnosis_sides(window_ns=window_ns, baseline_ns=baseline_ns)
        result: LiveDiagnosis = {
            "window": _span_of(now_ns - window_ns, now_ns),
            "baseline_window": _span_of(now_ns - window_ns - baseline_ns, now_ns - window_ns),
            "diagnosis": diagnose(before, after, service=service),
        }
        return result

    def report(
        self,
        *,
        window_ns: int,
        sections: frozenset[Section] = ALL_SECTIONS,
        top: int | None = None,
        rules: TraceFilter | None = None,
    ) -> Report:
        """The live report over the last `window_ns` (DESIGN section 6, plus `window`). Only the snapshot is
        taken under the pipeline's lock; the report is computed without it, so ingest goes on meanwhile."""
        return self.window_snapshot(window_ns=window_ns, rules=rules).report(sections=sections, top=top)


@dataclass(frozen=True, slots=True)
class LiveAnalysis(AnalysisReads):
    pipeline: LivePipeline
    metrics: LiveMetrics
    windows: ReportWindows
    retained: RetainedTraces

    @classmethod
    def from_settings(
        cls, settings: Settings, *, monotonic: Clock = time.monotonic_ns, wall: Clock = time.time_ns
    ) -> LiveAnalysis:
        options = AnalysisOptions(bottleneck_threshold_pct=settings.bottleneck_threshold)
        metrics = LiveMetrics(cardinality_limit=settings.cardinality_limit)
        windows = ReportWindows(
            options,
            bucket_ns=seconds_to_ns(settings.report_bucket),
            retention_ns=seconds_to_ns(settings.report_retention),
            recent_traces=settings.report_recent_traces,
            recent_spans=settings.report_recent_spans,
            cardinality_limit=settings.cardinality_limit,
        )
        retained = RetainedTraces(
            max_spans=settings.retained_spans,
            errors_per_minute=settings.retained_errors_per_minute,
            exemplar_trace_ids=metrics.exemplar_trace_ids,
        )
        pipeline = LivePipeline(
            limits=settings.assembler_limits(),
            options=options,
            sinks=(metrics, windows, retained),  # metrics first: a sweep sees the newest exemplars
            monotonic=monotonic,
            wall=wall,
        )
        return cls(pipeline, metrics, windows, retained)

    def collector(self) -> MetricsCollector:
        """Every metric, for a `CollectorRegistry`."""
        return MetricsCollector(self.scrape, self.pipeline.stats)

    def scrape(self) -> Scrape:
        """What `/metrics` renders, read at one moment under the pipeline's lock."""
        retained = self.retained
        # With a store, an exemplar is shown only while its trace is in it, so every exemplar link resolves.
        shows = retained.holds if retained.max_spans > 0 else None
        return self.pipeline.read(
            lambda _now: Scrape(
                self.metrics.render(shows),
                self.metrics.overflow_counts(),
                self.windows.state(),
                retained.state(),
            )
        )

    @property
    def retention_ns(self) -> int:
        return self.windows.retention_ns

    def wall_ns(self) -> int:
        return self.pipeline.wall_ns()

    def window_snapshot(self, *, window_ns: int, rules: TraceFilter | None) -> WindowSnapshot:
        return self.pipeline.read(
            lambda now_ns: self.windows.snapshot(window_ns=window_ns, now_ns=now_ns, rules=rules)
        )

    def diagnosis_sides(
        self, *, window_ns: int, baseline_ns: int
    ) -> tuple[int, DiagnosisStats, DiagnosisStats]:
        def read(now: int) -> tuple[int, DiagnosisStats, DiagnosisStats]:
            before, after = self.windows.diagnosis_sides(
                window_ns=window_ns, baseline_ns=baseline_ns, now_ns=now
            )
            return now, before, after

        return self.pipeline.read(read)

    def retained_snapshot(self) -> list[RetainedTrace]:
        return self.pipeline.read(lambda _now: self.retained.snapshot())

    def retained_trace(self, trace_id: bytes) -> RetainedTrace | None:
        return self.pipeline.read(lambda _now: self.retained.get(trace_id))
