"""The analyses of DESIGN section 5, shared by the batch and live paths. Pure code: no I/O, no clock."""

from __future__ import annotations

from streamproc.analyze.suite import AnalysisOptions, AnalysisSuite
from streamproc.analyze.tree import TraceTree, build_tree

__all__ = ["AnalysisOptions", "AnalysisSuite", "TraceTree", "build_tree"]
