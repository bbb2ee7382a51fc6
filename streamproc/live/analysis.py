"""The live analysis as configured: the pipeline with its two sinks (metrics, report windows), the report
over a window, and the collector `/metrics` registers. No threads or sockets: the service adds those, and
benchmarks and tests drive it with fake clocks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TypedDict

from streamproc.analyze.diagnosis import diagnose
from streamproc.analyze.filters import TraceFilter
from streamproc.analyze.schema import Diagnosis, Report
from streamproc.analyze.suite import ALL_SECTIONS, AnalysisOptions, Section
from streamproc.live.jaeger_api import DEPENDENCY_SECTIONS, JaegerApi
from streamproc.live.metrics import LiveMetrics, MetricsCollector
from streamproc.live.pipeline import Clock, LivePipeline
from streamproc.live.retained import RetainedTraces
from streamproc.live.settings import Settings
from streamproc.live.windows import ReportWindows
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


@dataclass(frozen=True, slots=True)
class LiveAnalysis:
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
        return MetricsCollector(
            self.metrics,
            read=self.pipeline.read,
            stats=self.pipeline.stats,
            windows=self.windows.state,
            retained=self.retained,
        )

    def jaeger_api(self) -> JaegerApi:
        """The Jaeger-compatible read API over the retained traces (and the report's dependencies)."""
        return JaegerApi(
            snapshot=lambda: self.pipeline.read(lambda _now: self.retained.snapshot()),
            dependencies=lambda window_ns: self.report(window_ns=window_ns, sections=DEPENDENCY_SECTIONS),
            now_ns=self.pipeline.wall_ns,
        )

    def diagnose(self, *, window_ns: int, baseline_ns: int, service: str | None = None) -> LiveDiagnosis:
        """The last `window_ns` against the `baseline_ns` before it (DESIGN section 11); the buckets are
        copied under the pipeline's lock and compared without it."""
        window_ns = min(window_ns, self.windows.retention_ns)
        baseline_ns = max(0, min(baseline_ns, self.windows.retention_ns - window_ns))
        now_ns, (before, after) = self.pipeline.read(
            lambda now: (
                now,
                self.windows.diagnosis_sides(window_ns=window_ns, baseline_ns=baseline_ns, now_ns=now),
            )
        )
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
        snapshot = self.pipeline.read(
            lambda now_ns: self.windows.snapshot(window_ns=window_ns, now_ns=now_ns, rules=rules)
        )
        return snapshot.report(sections=sections, top=top)
