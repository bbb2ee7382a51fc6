"""All analyzers behind one `observe(trace)`: the unit both the batch and the live path feed."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from streamproc.analyze.bottlenecks import BottleneckAnalyzer, Bottlenecks, find_bottlenecks
from streamproc.analyze.critical_path import (
    CriticalPathAnalyzer,
    CriticalSection,
    critical_path,
    critical_time_per_span,
)
from streamproc.analyze.dependencies import Call, DependencyAnalyzer, find_calls
from streamproc.analyze.diagnosis import DiagnosisStats
from streamproc.analyze.error_origins import ErrorAnalyzer, ErrorClass, classify
from streamproc.analyze.insights import Insight, InsightAnalyzer, InsightOptions, find_insights
from streamproc.analyze.schema import Report
from streamproc.analyze.summary import DurationStore, SummaryAnalyzer
from streamproc.analyze.tree import TraceTree, build_tree, self_times
from streamproc.model import Trace, new_tuple
from streamproc.pickling import frozen_reduce


class Section(enum.Enum):
    """Report sections; the summary is always present."""

    BOTTLENECKS = "bottlenecks"
    CRITICAL_PATH = "critical_path"
    ERRORS = "errors"
    DEPENDENCIES = "dependencies"
    INSIGHTS = "insights"


ALL_SECTIONS = frozenset(Section)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisOptions:
    bottleneck_threshold_pct: float = 20.0
    slowest_paths: int = 10  # critical paths kept for the slowest traces
    insights: InsightOptions = field(default_factory=InsightOptions)
    diagnosis: bool = True  # gather what `diagnose` compares (the batch path skips it without --diagnose)

    def problems(self) -> list[str]:
        found = []
        if not 0 <= self.bottleneck_threshold_pct < 100:
            found.append(f"bottleneck threshold {self.bottleneck_threshold_pct} must be from 0 to under 100")
        if self.slowest_paths < 0:
            found.append("the number of critical paths to keep cannot be negative")
        return found + self.insights.problems()

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return frozen_reduce(self)


class TraceFindings(NamedTuple):
    """What the analyses found in one trace; computed once, fed to every analyzer and to live metrics."""

    tree: TraceTree
    bottlenecks: Bottlenecks
    critical_ns: dict[int, int]  # span index -> time on the critical path, in path order
    critical_sections: list[CriticalSection]
    error_classes: list[tuple[int, ErrorClass]]
    calls: list[Call]
    insights: list[Insight]
    self_ns: list[int]  # each span's self time


def find(tree: TraceTree, options: AnalysisOptions) -> TraceFindings:
    sections = critical_path(tree)
    self_ns = self_times(tree)
    fields = (
        tree,
        find_bottlenecks(tree, self_ns, options.bottleneck_threshold_pct),
        critical_time_per_span(sections),
        sections,
        classify(tree),
        find_calls(tree),
        find_insights(tree, options.insights),
        self_ns,
    )
    return new_tuple(TraceFindings, fields)  # every field, in order


class AnalysisSuite:
    def __init__(
        self, options: AnalysisOptions | None = None, durations: DurationStore | None = None
    ) -> None:
        self.options = options or AnalysisOptions()
        self.summary = SummaryAnalyzer(durations)
        self.bottlenecks = BottleneckAnalyzer()
        self.critical_paths = CriticalPathAnalyzer(self.options.slowest_paths)
        self.errors = ErrorAnalyzer()
        self.dependencies = DependencyAnalyzer()
        self.insights = InsightAnalyzer()
        self.diagnosis = DiagnosisStats()

    def observe(self, trace: Trace) -> TraceFindings:
        """Analyze one whole trace; returns what was found, for callers that derive more (metrics)."""
        return self.observe_tree(build_tree(trace))

    def observe_tree(self, tree: TraceTree) -> TraceFindings:
        findings = find(tree, self.options)
        self.observe_findings(findings)
        return findings

    def observe_findings(self, findings: TraceFindings) -> None:
        tree = findings.tree
        self.summary.observe(tree)
        self.bottlenecks.observe(tree, findings.bottlenecks)
        self.critical_paths.observe(tree, findings.critical_ns, findings.critical_sections)
        self.errors.observe(tree, findings.error_classes)
        self.dependencies.observe(tree, findings.calls)
        self.insights.observe(tree, findings.insights)
        if self.options.diagnosis:
            self.diagnosis.observe(tree, findings.self_ns, findings.error_classes)

    def merge(self, other: AnalysisSuite) -> None:
        self.summary.merge(other.summary)
        self.bottlenecks.merge(other.bottlenecks)
        self.critical_paths.merge(other.critical_paths)
        self.errors.merge(other.errors)
        self.dependencies.merge(other.dependencies)
        self.insights.merge(other.insights)
        self.diagnosis.merge(other.diagnosis)

    def report(
        self, *, sections: frozenset[Section] = ALL_SECTIONS, top: int | None = None, skipped_spans: int = 0
    ) -> Report:
        """The report object of DESIGN section 6, with the sections asked for."""
        report: Report = {"summary": self.summary.report(skipped_spans=skipped_spans)}
        if Section.BOTTLENECKS in sections:
            report["bottlenecks"] = self.bottlenecks.report(top=top)
        if Section.CRITICAL_PATH in sections:
            report["critical_paths"] = self.critical_paths.report_paths(top=top)
            report["critical_path_summary"] = self.critical_paths.report_summary(top=top)
        if Section.ERRORS in sections:
            report["errors"] = self.errors.report(top=top)
        if Section.DEPENDENCIES in sections:
            report["dependencies"] = self.dependencies.report()
        if Section.INSIGHTS in sections:
            report["insights"] = self.insights.report(top=top)
        return report
