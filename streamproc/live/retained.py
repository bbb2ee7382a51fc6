"""Retained traces (DESIGN section 10): a store of recent whole traces, bounded by spans, that the
Jaeger-compatible read API and `/metrics` exemplars lead to.

Every completed trace goes in. When the store passes its bound it sweeps, oldest first, down to three
quarters of it, in three passes: first the traces nothing holds; then those held as the slowest or as one
of the erroring traces of their minute, per root service and operation; last, if it must, those a metric
exemplar points to. So the store keeps the traces worth opening longest, and sweeps rarely (once per
quarter of its bound), at a cost spread over the traces it took in. An exemplar is shown on `/metrics` only
while its trace is here (`holds`), so every exemplar link a scrape returns resolves.

A sink of the pipeline: `observe_trace` runs under the pipeline's lock; `snapshot` copies the (immutable)
entries under it, and queries run on the copy without it.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from streamproc.analyze.suite import TraceFindings
from streamproc.model import Span, SpanKind, Trace
from streamproc.report.jaeger import span_tags
from streamproc.units import NS_PER_S

MINUTE_NS = 60 * NS_PER_S
#: What holds a trace in the store, in the order a sweep evicts them: nothing; kept as the slowest or an
#: erroring trace of its minute; named by an exemplar.
NOT_HELD, KEPT, EXEMPLAR = HELD = ("none", "kept", "exemplar")


@dataclass(frozen=True, slots=True)
class RetainedTrace:
    """A trace in the store, with what its queries read (the root's names, the trace's times)."""

    trace: Trace
    root_service: str
    root_operation: str
    start_ns: int
    end_ns: int
    error: bool
    completed_ns: int

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True, slots=True)
class RetainedState:
    traces: int
    spans: int
    limit_spans: int
    evicted: dict[str, int]  # traces swept, by why they had been held ("none", "kept", "exemplar")
    too_large: int  # traces larger than the whole store, never kept


class RetainedTraces:
    def __init__(
        self,
        *,
        max_spans: int,
        errors_per_minute: int = 5,
        exemplar_trace_ids: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        self.max_spans = max_spans
        self.errors_per_minute = errors_per_minute
        self._exemplar_trace_ids = exemplar_trace_ids
        self._traces: OrderedDict[bytes, RetainedTrace] = OrderedDict()  # oldest first
        self._spans = 0
        # per (root service, root operation, minute of the trace's start)
        self._slowest: dict[tuple[str, str, int], RetainedTrace] = {}
        self._erroring: dict[tuple[str, str, int], list[bytes]] = {}
        self._evicted: Counter[str] = Counter()
        self._too_large = 0

    # --- the sink --------------------------------------------------------------------------------------

    def observe_trace(self, findings: TraceFindings, now_ns: int) -> None:
        if self.max_spans <= 0:
            return
        tree = findings.tree
        if len(tree.spans) > self.max_spans:
            self._too_large += 1
            return
        root = tree.root
        entry = RetainedTrace(
            Trace(tree.trace_id, tree.spans, tree.partial),
            root.service,
            root.name,
            tree.start_ns,
            tree.end_ns,
            tree.is_error,
            now_ns,
        )
        previous = self._traces.pop(tree.trace_id, None)
        if previous is not None:  # the same id again (a trace completed twice): the newer one stands
            self._spans -= len(previous.trace.spans)
        self._traces[tree.trace_id] = entry
        self._spans += len(tree.spans)
        key = (entry.root_service, entry.root_operation, entry.start_ns // MINUTE_NS)
        slowest = self._slowest.get(key)
        if slowest is None or entry.duration_ns > slowest.duration_ns:
            self._slowest[key] = entry
        if entry.error:
            erroring = self._erroring.setdefault(key, [])
            if len(erroring) < self.errors_per_minute:
                erroring.append(tree.trace_id)
        if self._spans > self.max_spans:
            self._sweep()

    def observe_fragment(self, findings: TraceFindings, now_ns: int) -> None:
        """Late spans are not added to a retained trace: it stays as it was analyzed."""

    def observe_skipped(self, spans: int, now_ns: int) -> None:
        pass

    def _sweep(self) -> None:
        low = self.max_spans * 3 // 4
        kept = {entry.trace.trace_id for entry in self._slowest.values()}
        kept.update(trace_id for ids in self._erroring.values() for trace_id in ids)
        exemplars = set()
        for text in self._exemplar_trace_ids():
            try:
                exemplars.add(bytes.fromhex(text))
            except ValueError:
                continue
        for held in HELD:
            if self._spans <= low:
                break
            for trace_id in list(self._traces):
                if self._spans <= low:
                    break
                why = EXEMPLAR if trace_id in exemplars else KEPT if trace_id in kept else NOT_HELD
                if HELD.index(why) <= HELD.index(held):
                    entry = self._traces.pop(trace_id)
                    self._spans -= len(entry.trace.spans)
                    self._evicted[why] += 1
        self._forget_evicted()

    def _forget_evicted(self) -> None:
        """Drop the per-minute marks of traces no longer here, and of minutes with none left."""
        self._slowest = {k: e for k, e in self._slowest.items() if e.trace.trace_id in self._traces}
        erroring = {}
        for key, ids in self._erroring.items():
            left = [trace_id for trace_id in ids if trace_id in self._traces]
            if left or key in self._slowest:
                erroring[key] = left
        self._erroring = erroring

    # --- reading (under the pipeline's lock) ------------------------------------------------------------

    def holds(self, trace_id_hex: str) -> bool:
        """Whether the store has the trace an exemplar names (a hex trace id)."""
        try:
            return bytes.fromhex(trace_id_hex) in self._traces
        except ValueError:
            return False

    def get(self, trace_id: bytes) -> RetainedTrace | None:
        return self._traces.get(trace_id)

    def snapshot(self) -> list[RetainedTrace]:
        """Every retained trace, oldest completion first (a copy: query it without the lock)."""
        return list(self._traces.values())

    def state(self) -> RetainedState:
        return RetainedState(
            len(self._traces), self._spans, self.max_spans, dict(self._evicted), self._too_large
        )


# --- queries (on a snapshot, without the lock) ---------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceQuery:
    """A search over retained traces, as Jaeger's query service takes it: a trace matches when one of its
    spans has the service (and operation, and every tag) with a duration within the bounds, and the trace
    started within the time range. Matches come newest first, at most `limit`."""

    service: str | None = None
    operation: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    start_ns: int | None = None
    end_ns: int | None = None
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None
    errors_only: bool = False
    limit: int = 100


def find_traces(entries: Iterable[RetainedTrace], query: TraceQuery) -> list[RetainedTrace]:
    found = []
    for entry in sorted(entries, key=lambda e: (e.start_ns, e.trace.trace_id), reverse=True):
        if query.start_ns is not None and entry.start_ns < query.start_ns:
            continue
        if query.end_ns is not None and entry.start_ns > query.end_ns:
            continue
        if query.errors_only and not entry.error:
            continue
        if any(_span_matches(span, query) for span in entry.trace.spans):
            found.append(entry)
            if len(found) >= query.limit:
                break
    return found


def _span_matches(span: Span, query: TraceQuery) -> bool:
    if query.service is not None and span.service != query.service:
        return False
    if query.operation is not None and span.name != query.operation:
        return False
    duration = span.end_ns - span.start_ns
    if query.min_duration_ns is not None and duration < query.min_duration_ns:
        return False
    if query.max_duration_ns is not None and duration > query.max_duration_ns:
        return False
    if query.tags:
        tags = span_tags(span)
        return all(tags.get(key) == value for key, value in query.tags)
    return True


def services(entries: Iterable[RetainedTrace]) -> list[str]:
    return sorted({span.service for entry in entries for span in entry.trace.spans})


def operations(entries: Iterable[RetainedTrace], service: str) -> list[tuple[str, SpanKind]]:
    """The (operation, span kind) pairs of a service's spans, by name."""
    found = {
        (span.name, span.kind) for entry in entries for span in entry.trace.spans if span.service == service
    }
    return sorted(found, key=lambda pair: (pair[0], pair[1].value))
