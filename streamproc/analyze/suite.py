"""All analyzers behind one `observe(trace)`: the unit both the batch and the live path feed."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from streamproc.analyze.bottlenecks import BottleneckAnalyzer
from streamproc.analyze.critical_path import CriticalPathAnalyzer
from streamproc.analyze.dependencies import DependencyAnalyzer, find_calls
from streamproc.analyze.errors import ErrorAnalyzer
from streamproc.analyze.summary import SummaryAnalyzer
from streamproc.analyze.tree import TraceTree, build_tree
from streamproc.model import Trace


class Section(enum.Enum):
    """Report sections; the summary is always present."""

    BOTTLENECKS = "bottlenecks"
    CRITICAL_PATH = "critical_path"
    ERRORS = "errors"
    DEPENDENCIES = "dependencies"


ALL_SECTIONS = frozenset(Section)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisOptions:
    bottleneck_threshold_pct: float = 20.0
    slowest_paths: int = 10  # critical paths kept for the slowest traces

    def problems(self) -> list[str]:
        found = []
        if not 0 <= self.bottleneck_threshold_pct < 100:
            found.append(f"bottleneck threshold {self.bottleneck_threshold_pct} must be from 0 to under 100")
        if self.slowest_paths < 0:
            found.append("the number of critical paths to keep cannot be negative")
        return found


class AnalysisSuite:
    def __init__(self, options: AnalysisOptions | None = None) -> None:
        self.options = options or AnalysisOptions()
        self.summary = SummaryAnalyzer()
        self.bottlenecks = BottleneckAnalyzer(self.options.bottleneck_threshold_pct)
        self.critical_paths = CriticalPathAnalyzer(self.options.slowest_paths)
        self.errors = ErrorAnalyzer()
        self.dependencies = DependencyAnalyzer()

    def observe(self, trace: Trace) -> TraceTree:
        """Analyze one whole trace; returns its index for callers that derive more from it (metrics)."""
        tree = build_tree(trace)
        self.observe_tree(tree)
        return tree

    def observe_tree(self, tree: TraceTree) -> None:
        self.summary.observe(tree)
        self.bottlenecks.observe(tree, tree.self_times())
        self.critical_paths.observe(tree)
        self.errors.observe(tree)
        self.dependencies.observe(tree, find_calls(tree))

    def merge(self, other: AnalysisSuite) -> None:
        self.summary.merge(other.summary)
        self.bottlenecks.merge(other.bottlenecks)
        self.critical_paths.merge(other.critical_paths)
        self.errors.merge(other.errors)
        self.dependencies.merge(other.dependencies)

    def report(
        self, *, sections: frozenset[Section] = ALL_SECTIONS, top: int | None = None, skipped_spans: int = 0
    ) -> dict[str, Any]:
        """The report object of DESIGN section 6, with the sections asked for."""
        report: dict[str, Any] = {"summary": self.summary.report(skipped_spans=skipped_spans)}
        if Section.BOTTLENECKS in sections:
            report["bottlenecks"] = self.bottlenecks.report(top=top)
        if Section.CRITICAL_PATH in sections:
            report["critical_paths"] = self.critical_paths.report_paths(top=top)
            report["critical_path_summary"] = self.critical_paths.report_summary(top=top)
        if Section.ERRORS in sections:
            report["errors"] = self.errors.report(top=top)
        if Section.DEPENDENCIES in sections:
            report["dependencies"] = self.dependencies.report()
        return report
