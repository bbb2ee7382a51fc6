"""Live wiring: decoded spans -> TraceAssembler -> analysis -> sinks (metrics, report windows).

The pipeline composes and owns the lock; it renders nothing. One lock guards the assembler and the sinks'
state: the receivers (ingest), the ticker (expire), scrapes and report queries (`read`) each take it
briefly. Time comes from the clocks passed in: a monotonic clock for trace assembly, the wall clock for the
sinks. What it did is counted and returned as a value (`stats()`), which the metrics module renders.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import structlog

from streamproc.analyze.suite import AnalysisOptions, TraceFindings, find
from streamproc.analyze.tree import build_tree
from streamproc.decode.common import DecodeResult
from streamproc.decode.otlp_request import decode_request
from streamproc.live.assembler import AssemblerLimits, AssemblerState, CompletedTrace, TraceAssembler
from streamproc.model import SkipReason, Trace
from streamproc.pickling import frozen_reduce
from streamproc.units import NS_PER_S

Clock = Callable[[], int]
T = TypeVar("T")

#: Why spans in a request refused whole were not received (the sender retries them).
REFUSALS = ("shutting_down", "over_capacity", "deadline", "worker_restart")
#: How requests arrive: OTLP/gRPC, OTLP/HTTP.
TRANSPORTS = ("grpc", "http")
#: Why a span that was received is not analyzed, beyond what decoding rejects.
ANALYSIS_FAILED = "analysis_failed"
#: Spans a worker process held or had not confirmed when it died (`live.workers`).
WORKER_LOST = "worker_lost"


class TraceSink(Protocol):
    """Where the findings of completed traces go (metrics, report windows). Called under the pipeline's
    lock, with the wall-clock time of completion."""

    def observe_trace(self, findings: TraceFindings, now_ns: int) -> None:
        """A whole trace (or one completed early at a bound)."""

    def observe_fragment(self, findings: TraceFindings, now_ns: int) -> None:
        """Late spans of a trace that had already completed: spans, not a new trace."""

    def observe_skipped(self, spans: int, now_ns: int) -> None:
        """Spans received but not analyzed (rejected by decoding, or duplicates)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineStats:
    """Everything the pipeline counted, at one moment: counters only grow; the assembler's buffer levels."""

    spans_received: int  # over every transport
    received: dict[str, int]  # spans received, by transport (TRANSPORTS)
    dropped: dict[str, int]  # spans received but not analyzed, by reason (SkipReason values, analysis_failed)
    refused: dict[tuple[str, str], int]  # spans in requests refused whole, by transport and REFUSALS reason
    undecodable_requests: dict[str, int]  # by transport
    auth_failures: dict[str, int]  # requests refused for a missing or wrong token, by listener
    traces_analyzed: int
    malformed_traces: int  # traces whose parent loop was cut, analyzed all the same
    assembler: AssemblerState
    workers: int = 1  # processes that assemble and analyze traces
    worker_restarts: int = 0  # worker processes that died and were replaced

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return frozen_reduce(self)


class Intake(Protocol):
    """What the receivers feed: one process's `LivePipeline`, or the pool of workers (`live.workers`)."""

    def ingest(self, result: DecodeResult, transport: str = "grpc") -> None: ...

    def ingest_request(self, raw: bytes, transport: str = "grpc") -> DecodeResult: ...

    def ingest_undecodable(self, transport: str = "grpc") -> None: ...

    def auth_failed(self, listener: str) -> None: ...

    def refuse(self, span_count: int, reason: str, transport: str = "grpc") -> None: ...


def analyze_trace(options: AnalysisOptions) -> Callable[[Trace], TraceFindings]:
    """The analysis the pipeline runs on each completed trace: the batch path's, one trace at a time."""

    def analyze(trace: Trace) -> TraceFindings:
        return find(build_tree(trace), options)

    return analyze


class LivePipeline:
    def __init__(
        self,
        *,
        limits: AssemblerLimits,
        options: AnalysisOptions,
        sinks: Sequence[TraceSink] = (),
        analyze: Callable[[Trace], TraceFindings] | None = None,
        monotonic: Clock = time.monotonic_ns,
        wall: Clock = time.time_ns,
    ) -> None:
        self._lock = threading.Lock()
        self._refusal_lock = threading.Lock()
        self._monotonic = monotonic
        self._wall = wall
        self._assembler = TraceAssembler(limits)
        self._sinks = tuple(sinks)
        self._analyze_trace = analyze or analyze_trace(options)
        self._received: Counter[str] = Counter()
        self._dropped: Counter[str] = Counter()
        self._refused: Counter[tuple[str, str]] = Counter()
        self._traces_analyzed = 0
        self._malformed_traces = 0
        self._undecodable_requests: Counter[str] = Counter()
        self._auth_failures: Counter[str] = Counter()

    # --- feeding -------------------------------------------------------------------------------------

    def ingest(self, result: DecodeResult, transport: str = "grpc") -> None:
        """Spans of one request (and the ones its decoding rejected)."""
        with self._lock:
            self._received[transport] += len(result.spans) + len(result.skipped)
            if result.skipped:
                self._dropped.update(s.reason.value for s in result.skipped)
                self._skipped(len(result.skipped))
            added = self._assembler.add(result.spans, self._monotonic())
            if added.duplicates:
                self._dropped[SkipReason.DUPLICATE_SPAN.value] += added.duplicates
                self._skipped(added.duplicates)
            self._analyze(added.completed)

    def ingest_request(self, raw: bytes, transport: str = "grpc") -> DecodeResult:
        """An OTLP protobuf request's bytes, decoded and taken in; its spans and the skipped ones.
        WireFormatError if it is not an ExportTraceServiceRequest."""
        result = decode_request(raw)
        self.ingest(result, transport)
        return result

    def ingest_undecodable(self, transport: str = "grpc") -> None:
        """A request that was not an ExportTraceServiceRequest at all (INVALID_ARGUMENT, HTTP 400)."""
        with self._refusal_lock:
            self._undecodable_requests[transport] += 1

    def auth_failed(self, listener: str) -> None:
        """A request without the right bearer token (`listener`: grpc or http); counted, never logged."""
        with self._refusal_lock:
            self._auth_failures[listener] += 1

    def refuse(self, span_count: int, reason: str, transport: str = "grpc") -> None:
        """A request refused whole (UNAVAILABLE): its spans were not received; the sender will retry.

        Counted under a lock of its own: refusing must stay quick precisely when the pipeline is busy.
        """
        with self._refusal_lock:
            self._refused[transport, reason] += span_count

    def tick(self) -> int:
        """Complete the traces whose time has come; returns how many."""
        with self._lock:
            completed = self._assembler.expire(self._monotonic())
            self._analyze(completed)
            return len(completed)

    def seconds_until_due(self) -> float | None:
        """How long until the next buffered trace is due to complete (0 if overdue); None if none is."""
        with self._lock:
            due = self._assembler.next_due_ns()
            return None if due is None else max(0, due - self._monotonic()) / NS_PER_S

    def drain(self) -> int:
        """Complete every buffered trace (shutdown); returns how many."""
        with self._lock:
            completed = self._assembler.drain()
            self._analyze(completed)
            return len(completed)

    def _skipped(self, spans: int) -> None:
        now = self._wall()
        for sink in self._sinks:
            sink.observe_skipped(spans, now)

    def _analyze(self, completed: list[CompletedTrace]) -> None:
        if not completed:
            return
        now = self._wall()
        for item in completed:
            try:
                self._analyze_one(item, now)
            except Exception:  # a bug must not lose the other traces of this batch, nor this one silently
                self._dropped[ANALYSIS_FAILED] += len(item.trace.spans)
                structlog.get_logger().exception(
                    "trace_analysis_failed", trace_id=item.trace.trace_id.hex(), spans=len(item.trace.spans)
                )

    def _analyze_one(self, item: CompletedTrace, now: int) -> None:
        """One completed trace through the analysis and every sink; the caller guards it."""
        findings = self._analyze_trace(item.trace)
        if item.late:
            for sink in self._sinks:
                sink.observe_fragment(findings, now)
            return
        for sink in self._sinks:
            sink.observe_trace(findings, now)
        self._traces_analyzed += 1
        self._malformed_traces += findings.tree.malformed

    # --- reading -------------------------------------------------------------------------------------

    def read(self, reader: Callable[[int], T]) -> T:
        """`reader(now_ns)` under the lock, for a consistent view of the sinks' state (a scrape, a report)."""
        with self._lock:
            return reader(self._wall())

    def wall_ns(self) -> int:
        """The wall clock the sinks are read with."""
        return self._wall()

    def stats(self) -> PipelineStats:
        with self._lock, self._refusal_lock:
            return PipelineStats(
                spans_received=sum(self._received.values()),
                received=dict(self._received),
                dropped=dict(self._dropped),
                refused=dict(self._refused),
                undecodable_requests=dict(self._undecodable_requests),
                auth_failures=dict(self._auth_failures),
                traces_analyzed=self._traces_analyzed,
                malformed_traces=self._malformed_traces,
                assembler=self._assembler.state(),
            )
