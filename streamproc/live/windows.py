"""The live report's state: analyses kept in time buckets that merge into any window (pure; time passed in).

Each bucket is an AnalysisSuite with a sketch for durations, so a bucket's size depends on the number of
distinct services and operations, not on the number of traces. `report()` merges the buckets that fall in
the window. Filters (service, errors only, latency) need the traces themselves: those queries are answered
from a bounded ring of the most recent traces, and the report says how far back that ring reached.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

from streamproc.analyze.diagnosis import DiagnosisStats
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
    overflow_traces: int = 0  # traces counted in the summary only: they would have passed the key limit
    names: dict[str, set[str]] = field(default_factory=dict)  # the operations the suite holds, by service
    key_count: int = 0

    def admits(self, tree: TraceTree, limit: int) -> bool:
        """Whether the bucket's analyses may take `tree`: its (service, operation) keys stay within
        `limit` (and are then counted as held). The common case, every key known, allocates nothing."""
        names = self.names
        for span in tree.spans:
            known = names.get(span.service)
            if known is None or span.name not in known:
                break
        else:
            return True
        new = {
            (span.service, span.name) for span in tree.spans if span.name not in names.get(span.service, ())
        }
        if self.key_count + len(new) > limit:
            return False
        for service, name in new:
            names.setdefault(service, set()).add(name)
        self.key_count += len(new)
        return True


class WindowsState(NamedTuple):
    """What the report windows hold, for the self-metrics."""

    recent_traces: int
    recent_spans: int
    recent_spans_limit: int


class ReportWindows:
    """The report's state (a `TraceSink` of the pipeline): time buckets, and the recent traces.

    The ring of recent traces, which filtered reports read, is bounded by traces and by spans: a burst of
    2,000-span traces costs what the span bound allows, not 10,000 of them."""

    def __init__(
        self,
        options: AnalysisOptions,
        *,
        bucket_ns: int,
        retention_ns: int,
        recent_traces: int,
        recent_spans: int,
        cardinality_limit: int,
    ) -> None:
        self.cardinality_limit = cardinality_limit
        self.options = options
        self.bucket_ns = bucket_ns
        self.retention_ns = retention_ns
        self.recent_traces = recent_traces
        self.recent_spans = recent_spans
        self._buckets: deque[_Bucket] = deque()
        self._recent: deque[tuple[int, TraceTree]] = deque()
        self._recent_span_count = 0
        self._evicted_until_ns: int | None = None  # completion time of the newest trace the ring let go

    def _current(self, now_ns: int) -> _Bucket:
        start = now_ns - now_ns % self.bucket_ns
        if not self._buckets or self._buckets[-1].start_ns != start:
            self._buckets.append(_Bucket(start, AnalysisSuite(self.options, SketchDurations())))
        while self._buckets and self._buckets[0].start_ns + self.bucket_ns <= now_ns - self.retention_ns:
            self._buckets.popleft()
        return self._buckets[-1]

    def observe_trace(self, findings: TraceFindings, now_ns: int) -> None:
        """A completed trace into the current bucket: every analysis while the bucket's distinct
        (service, operation) keys stay within the cardinality limit; past it, the summary only (the trace
        and its duration count; its operations do not), counted as an overflow trace."""
        bucket = self._current(now_ns)
        if bucket.admits(findings.tree, self.cardinality_limit):
            bucket.suite.observe_findings(findings)
        else:
            bucket.suite.summary.observe(findings.tree)
            bucket.overflow_traces += 1
        self._recent.append((now_ns, findings.tree))
        self._recent_span_count += len(findings.tree.spans)
        while self._recent and (
            len(self._recent) > self.recent_traces or self._recent_span_count > self.recent_spans
        ):
            evicted_ns, evicted = self._recent.popleft()
            self._recent_span_count -= len(evicted.spans)
            self._evicted_until_ns = evicted_ns

    def observe_fragment(self, findings: TraceFindings, now_ns: int) -> None:
        """Late spans are not a trace: the report's analyses count whole traces only."""

    def observe_skipped(self, spans: int, now_ns: int) -> None:
        self._current(now_ns).skipped_spans += spans

    def state(self) -> WindowsState:
        return WindowsState(len(self._recent), self._recent_span_count, self.recent_spans)

    def report(
        self,
        *,
        window_ns: int,
        now_ns: int,
        sections: frozenset[Section] = ALL_SECTIONS,
        top: int | None = None,
        rules: TraceFilter | None = None,
    ) -> Report:
        """The report over the last `window_ns`: `snapshot` and its report, in one step."""
        return self.snapshot(window_ns=window_ns, now_ns=now_ns, rules=rules).report(
            sections=sections, top=top
        )

    def diagnosis_sides(
        self, *, window_ns: int, baseline_ns: int, now_ns: int
    ) -> tuple[DiagnosisStats, DiagnosisStats]:
        """Copies of what the diagnosis compares: the buckets of the last `window_ns` (current), and those of
        the `baseline_ns` before them (baseline), by bucket."""
        since = now_ns - window_ns
        baseline, current = DiagnosisStats(), DiagnosisStats()
        for bucket in self._buckets:
            end = bucket.start_ns + self.bucket_ns
            if end > since:
                current.merge(bucket.suite.diagnosis)
            elif end > since - baseline_ns:
                baseline.merge(bucket.suite.diagnosis)
        return baseline, current

    def snapshot(self, *, window_ns: int, now_ns: int, rules: TraceFilter | None = None) -> WindowSnapshot:
        """What a report over the last `window_ns` needs, taken quickly (under the pipeline's lock): the
        finished buckets themselves (no trace changes them any more), a copy of the current one, and the
        recent traces when filters need them. `WindowSnapshot.report` then works without the lock."""
        asked_ns, window_ns = window_ns, min(window_ns, self.retention_ns)
        since = now_ns - window_ns
        buckets = [b for b in self._buckets if b.start_ns + self.bucket_ns > since]
        current_start = now_ns - now_ns % self.bucket_ns
        if buckets and buckets[-1].start_ns == current_start:
            copy = AnalysisSuite(self.options, SketchDurations())
            copy.merge(buckets[-1].suite)
            buckets[-1] = _Bucket(current_start, copy, buckets[-1].skipped_spans, buckets[-1].overflow_traces)
        recent: list[TraceTree] | None = None
        complete = True
        if rules is not None and rules.active:
            recent = [tree for completed_ns, tree in self._recent if completed_ns >= since]
            complete = self._evicted_until_ns is None or self._evicted_until_ns < since
        return WindowSnapshot(self.options, buckets, recent, asked_ns, window_ns, now_ns, rules, complete)


@dataclass(slots=True)
class WindowSnapshot:
    """A report window's state, apart from the live windows: reports are computed from it without holding
    the pipeline's lock, so a report never stalls ingest."""

    options: AnalysisOptions
    buckets: list[_Bucket]
    recent: list[TraceTree] | None  # with filters: the recent traces of the window
    asked_ns: int
    window_ns: int
    now_ns: int
    rules: TraceFilter | None
    complete: bool

    def report(self, *, sections: frozenset[Section] = ALL_SECTIONS, top: int | None = None) -> Report:
        since = self.now_ns - self.window_ns
        suite = AnalysisSuite(self.options, SketchDurations())
        if self.recent is not None and self.rules is not None:
            for tree in filter_trees(self.recent, self.rules):
                suite.observe_tree(tree)
            window = _window(
                self.window_ns, since, self.now_ns, filtered=len(self.recent), complete=self.complete
            )
        else:
            for bucket in self.buckets:
                suite.merge(bucket.suite)
            window = _window(self.window_ns, since, self.now_ns, filtered=None, complete=True)
        if self.asked_ns > self.window_ns:
            window["requested_seconds"] = self.asked_ns / NS_PER_S
        window["overflow_traces"] = sum(b.overflow_traces for b in self.buckets)
        report = suite.report(
            sections=sections, top=top, skipped_spans=sum(b.skipped_spans for b in self.buckets)
        )
        report["filters"] = (self.rules or TraceFilter()).report()
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
