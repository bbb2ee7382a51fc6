"""TraceAssembler: spans arriving in any order become whole traces (DESIGN section 4). Pure: the caller
passes the time (a monotonic clock in nanoseconds, never span timestamps, which skew).

A trace completes when the first of these happens:
* idle: no span for `idle_timeout` since its last one;
* root grace: its root span has arrived and no newer span for `root_grace`;
* max age: `max_trace_age` since its first span;
* a bound: a new trace while `max_traces` are buffered completes the oldest; more than
  `max_buffered_spans` completes the oldest until within; a trace reaching `max_spans_per_trace` completes.
  Traces completed at a bound are marked partial. None is ever discarded silently.

A span id already in its trace is dropped as a duplicate. Spans of a recently completed trace (known from a
bounded cache of trace ids) are late: they gather into a fragment, completed by the same rules and marked
late, so that they are analyzed as spans but never counted as a new trace.

Accounting invariant: spans accepted = spans in completed traces + duplicates dropped + spans buffered.

Timers need no scan: `_pending` keeps traces in first-arrival order (max age), `_activity` in
last-arrival order (idle), `_rooted` the rooted ones in last-arrival order (root grace); each check pops
from the front while the front is due.
"""

from __future__ import annotations

import enum
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from streamproc.model import Span, Trace
from streamproc.pickling import frozen_reduce
from streamproc.units import NS_PER_S


class Completion(enum.Enum):
    """Why a trace was completed. Values are stable: they label `streamproc_traces_completed_total`."""

    IDLE = "idle"
    ROOT_GRACE = "root_grace"
    MAX_AGE = "max_age"
    MAX_TRACES = "max_traces"
    MAX_BUFFERED_SPANS = "max_buffered_spans"
    MAX_SPANS_PER_TRACE = "max_spans_per_trace"
    SHUTDOWN = "shutdown"


PARTIAL = frozenset({Completion.MAX_TRACES, Completion.MAX_BUFFERED_SPANS, Completion.MAX_SPANS_PER_TRACE})


@dataclass(frozen=True, slots=True, kw_only=True)
class AssemblerLimits:
    idle_timeout_ns: int = 5 * NS_PER_S
    root_grace_ns: int = 1 * NS_PER_S
    max_trace_age_ns: int = 60 * NS_PER_S
    max_traces: int = 50_000
    max_buffered_spans: int = 1_000_000
    max_spans_per_trace: int = 100_000
    recent_trace_ids: int = 200_000  # completed trace ids remembered to recognise late spans

    def problems(self) -> list[str]:
        found = [
            f"{name} must be positive"
            for name in (
                "idle_timeout_ns",
                "root_grace_ns",
                "max_trace_age_ns",
                "max_traces",
                "max_buffered_spans",
                "max_spans_per_trace",
            )
            if getattr(self, name) <= 0
        ]
        if self.recent_trace_ids < 0:
            found.append("recent_trace_ids cannot be negative")
        return found

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return frozen_reduce(self)


@dataclass(frozen=True, slots=True)
class CompletedTrace:
    trace: Trace
    reason: Completion
    late: bool  # a fragment of a trace that had already completed

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return frozen_reduce(self)


class AssemblerState(NamedTuple):
    """The assembler's counters and levels at one moment, and its bounds."""

    completed: dict[Completion, int]  # traces completed, by reason
    late_spans: int
    buffered_traces: int
    buffered_spans: int
    limits: AssemblerLimits


class AddResult(NamedTuple):
    """What one `add` did: the traces a bound forced to complete, and the spans dropped as duplicates."""

    completed: list[CompletedTrace]
    duplicates: int


class _Pending:
    __slots__ = ("first_ns", "last_ns", "late", "rooted", "spans")

    def __init__(self, now_ns: int, late: bool) -> None:
        self.spans: dict[bytes, Span] = {}
        self.first_ns = now_ns
        self.last_ns = now_ns
        self.late = late
        self.rooted = False


class TraceAssembler:
    def __init__(self, limits: AssemblerLimits | None = None) -> None:
        self.limits = limits or AssemblerLimits()
        self._pending: dict[bytes, _Pending] = {}
        self._activity: OrderedDict[bytes, None] = OrderedDict()
        self._rooted: OrderedDict[bytes, None] = OrderedDict()
        self._recent: OrderedDict[bytes, None] = OrderedDict()
        self.buffered_spans = 0
        self.spans_accepted = 0
        self.duplicate_spans = 0
        self.late_spans = 0
        self.completed: Counter[Completion] = Counter()

    @property
    def buffered_traces(self) -> int:
        return len(self._pending)

    def state(self) -> AssemblerState:
        return AssemblerState(
            dict(self.completed), self.late_spans, len(self._pending), self.buffered_spans, self.limits
        )

    def add(self, spans: Iterable[Span], now_ns: int) -> AddResult:
        """Buffer spans that arrived at `now_ns`; returns the traces a bound forced to complete and how many
        spans were dropped as duplicates."""
        limits = self.limits
        done: list[CompletedTrace] = []
        duplicates = 0
        for span in spans:
            self.spans_accepted += 1
            trace_id = span.trace_id
            pending = self._pending.get(trace_id)
            if pending is None:
                if len(self._pending) >= limits.max_traces:
                    done.append(self._complete(next(iter(self._pending)), Completion.MAX_TRACES))
                pending = self._pending[trace_id] = _Pending(now_ns, trace_id in self._recent)
            elif span.span_id in pending.spans:
                duplicates += 1
                continue
            pending.spans[span.span_id] = span
            pending.last_ns = now_ns
            self.buffered_spans += 1
            self.late_spans += pending.late
            self._activity[trace_id] = None
            self._activity.move_to_end(trace_id)
            if not span.parent_span_id:
                pending.rooted = True
            if pending.rooted:
                self._rooted[trace_id] = None
                self._rooted.move_to_end(trace_id)
            if len(pending.spans) >= limits.max_spans_per_trace:
                done.append(self._complete(trace_id, Completion.MAX_SPANS_PER_TRACE))
            while self.buffered_spans > limits.max_buffered_spans:
                done.append(self._complete(next(iter(self._pending)), Completion.MAX_BUFFERED_SPANS))
        self.duplicate_spans += duplicates
        return AddResult(done, duplicates)

    def expire(self, now_ns: int) -> list[CompletedTrace]:
        """Complete every trace whose time has come."""
        limits = self.limits
        done = []
        while self._pending:
            oldest = next(iter(self._pending))
            if self._pending[oldest].first_ns + limits.max_trace_age_ns > now_ns:
                break
            done.append(self._complete(oldest, Completion.MAX_AGE))
        while self._rooted:
            oldest = next(iter(self._rooted))
            if self._pending[oldest].last_ns + limits.root_grace_ns > now_ns:
                break
            done.append(self._complete(oldest, Completion.ROOT_GRACE))
        while self._activity:
            oldest = next(iter(self._activity))
            if self._pending[oldest].last_ns + limits.idle_timeout_ns > now_ns:
                break
            done.append(self._complete(oldest, Completion.IDLE))
        return done

    def next_due_ns(self) -> int | None:
        """The earliest time at which `expire` would complete a trace; None with nothing buffered."""
        limits = self.limits
        due = []
        if self._pending:
            due.append(self._pending[next(iter(self._pending))].first_ns + limits.max_trace_age_ns)
        if self._rooted:
            due.append(self._pending[next(iter(self._rooted))].last_ns + limits.root_grace_ns)
        if self._activity:
            due.append(self._pending[next(iter(self._activity))].last_ns + limits.idle_timeout_ns)
        return min(due) if due else None

    def drain(self) -> list[CompletedTrace]:
        """Complete every buffered trace (at shutdown)."""
        return [self._complete(trace_id, Completion.SHUTDOWN) for trace_id in list(self._pending)]

    def _complete(self, trace_id: bytes, reason: Completion) -> CompletedTrace:
        pending = self._pending.pop(trace_id)
        del self._activity[trace_id]
        self._rooted.pop(trace_id, None)
        self.buffered_spans -= len(pending.spans)
        self.completed[reason] += 1
        if self.limits.recent_trace_ids:
            self._recent[trace_id] = None
            self._recent.move_to_end(trace_id)
            if len(self._recent) > self.limits.recent_trace_ids:
                self._recent.popitem(last=False)
        trace = Trace(trace_id, tuple(pending.spans.values()), partial=reason in PARTIAL or pending.late)
        return CompletedTrace(trace, reason, pending.late)
