"""The live report's state: analyses kept in time buckets that merge into any window (pure; time passed in).

Each bucket is an AnalysisSuite with a sketch for durations, so a bucket's size depends on the number of
distinct services and operations, not on the number of traces. `report()` merges the buckets that fall in
the window. Filters (service, errors only, latency) need the traces themselves: those queries are answered
from a bounded ring of the most recent traces, and the report says how far back that ring reached.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from streamproc.analyze.filters import TraceFilter, filter_trees
from streamproc.analyze.schema import Report, Window
from streamproc.analyze.sketch import SketchDurations
from streamproc.analyze.suite import ALL_SECTIONS, AnalysisOptions, AnalysisSuite, Section, TraceFindings
from streamproc.analyze.tree import TraceTree
from streamproc.units import NS_PER_S, iso_time


@dataclass(slots=True)
class _Bucket:
    start_ns: int
    suite: AnalysisSuite
    skipped_spans: int = 0


class ReportWindows:
    """The report's state (a `TraceSink` of the pipeline): time buckets, and the recent traces."""

    def __init__(
        self, options: AnalysisOptions, *, bucket_ns: int, retention_ns: int, recent_traces: int
    ) -> None:
        self.options = options
        self.bucket_ns = bucket_ns
        self.retention_ns = retention_ns
        self._buckets: deque[_Bucket] = deque()
        self._recent: deque[tuple[int, TraceTree]] = deque(maxlen=recent_traces)

    def _current(self, now_ns: int) -> _Bucket:
        start = now_ns - now_ns % self.bucket_ns
        if not self._buckets or self._buckets[-1].start_ns != start:
            self._buckets.append(_Bucket(start, AnalysisSuite(self.options, SketchDurations())))
        while self._buckets and self._buckets[0].start_ns + self.bucket_ns <= now_ns - self.retention_ns:
            self._buckets.popleft()
        return self._buckets[-1]

    def observe_trace(self, findings: TraceFindings, now_ns: int) -> None:
        self._current(now_ns).suite.observe_findings(findings)
        self._recent.append((now_ns, findings.tree))

    def observe_fragment(self, findings: TraceFindings, now_ns: int) -> None:
        """Late spans are not a trace: the report's analyses count whole traces only."""

    def observe_skipped(self, spans: int, now_ns: int) -> None:
        self._current(now_ns).skipped_spans += spans

    def report(
        self,
        *,
        window_ns: int,
        now_ns: int,
        sections: frozenset[Section] = ALL_SECTIONS,
        top: int | None = None,
        rules: TraceFilter | None = None,
    ) -> Report:
        asked_ns, window_ns = window_ns, min(window_ns, self.retention_ns)
        since = now_ns - window_ns
        buckets = [b for b in self._buckets if b.start_ns + self.bucket_ns > since]
        skipped = sum(b.skipped_spans for b in buckets)
        suite = AnalysisSuite(self.options, SketchDurations())
        if rules is not None and rules.active:
            recent = [tree for completed_ns, tree in self._recent if completed_ns >= since]
            for tree in filter_trees(recent, rules):
                suite.observe_tree(tree)
            oldest = self._recent[0][0] if self._recent else now_ns
            complete = len(self._recent) < (self._recent.maxlen or 0) or oldest <= since
            window = _window(window_ns, since, now_ns, filtered=len(recent), complete=complete)
        else:
            for bucket in buckets:
                suite.merge(bucket.suite)
            window = _window(window_ns, since, now_ns, filtered=None, complete=True)
        if asked_ns > window_ns:
            window["requested_seconds"] = asked_ns / NS_PER_S
        report = suite.report(sections=sections, top=top, skipped_spans=skipped)
        report["filters"] = (rules or TraceFilter()).report()
        report["window"] = window
        return report


def _window(window_ns: int, since_ns: int, now_ns: int, *, filtered: int | None, complete: bool) -> Window:
    """The report's `window`; with filters, how many recent traces they were applied to."""
    seconds, start, end = window_ns / NS_PER_S, iso_time(since_ns), iso_time(now_ns)
    if filtered is None:
        return {"seconds": seconds, "start": start, "end": end, "complete": complete}
    return {
        "seconds": seconds,
        "start": start,
        "end": end,
        "filtered_from_recent_traces": filtered,
        "complete": complete,
    }
