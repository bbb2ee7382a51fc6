"""The report object (DESIGN section 6, the `--json` output) as typed dicts: what the analyzers return,
what `report/` renders and what the comparison reads, checked by mypy. At run time they are plain dicts,
so the JSON is exactly what the keys say, in the order they are built.

Sections the user did not ask for are absent (`NotRequired`); ids are lowercase hex; times in ms.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class TimeRange(TypedDict):
    start: str | None  # ISO 8601 UTC; None when there were no traces
    end: str | None


class DurationStats(TypedDict):
    min_ms: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


class HistogramBin(TypedDict):
    """A bin of a fixed logarithmic grid, ten a decade: durations over the grid's bound before `le_ms`
    (`le_ms / 10 ** 0.1`) up to `le_ms`; only bins that hold traces are listed."""

    le_ms: float
    count: int


class Summary(TypedDict):
    trace_count: int
    span_count: int
    error_count: int  # traces with an erroring span
    error_span_count: int
    error_rate: float  # percent of traces
    skipped_spans: int
    malformed_traces: int  # traces whose parent chains looped, analyzed after the loop was cut
    time_range: TimeRange
    duration_stats: DurationStats
    duration_histogram: list[HistogramBin]  # trace durations, fastest bin first


class Bottleneck(TypedDict):
    service: str
    operation: str
    occurrences: int
    trace_count: int
    mean_self_time_ms: float
    mean_share_pct: float
    pattern: str


class PathSpan(TypedDict):
    span_id: str
    service: str
    operation: str
    duration_ms: float
    critical_ms: float
    start_ms: float  # after the trace's start
    parent: int | None  # the parent's position in this list; None for a root
    error: bool
    sections: list[list[float]]  # [start_ms, end_ms] of each stretch on the critical path
    off_path_spans: int  # spans below this one that are not on the path


class CriticalPath(TypedDict):
    trace_id: str
    total_duration_ms: float
    critical_path_duration_ms: (
        float  # the sum of every root's path: more than the trace's with parallel roots
    )
    root_count: int  # spans without a parent in the trace; each has a path of its own
    span_count: int
    spans: list[PathSpan]


class CriticalPathShare(TypedDict):
    service: str
    operation: str
    total_ms: float
    share_pct: float
    trace_count: int


class ErrorPattern(TypedDict):
    service: str
    operation: str
    message: str
    classification: str  # originating, propagated or handled
    count: int
    share_pct: float
    example_traces: list[str]


class ServiceErrors(TypedDict):
    count: int
    originating: int
    propagated: int
    handled: int
    messages: dict[str, int]
    example_traces: list[str]


class Errors(TypedDict):
    error_rate: float
    error_traces: int
    trace_count: int
    patterns: list[ErrorPattern]
    by_service: dict[str, ServiceErrors]


class InsightEvidence(TypedDict):
    """Means over the insight's occurrences."""

    calls: float  # spans in the pattern (a cascading timeout: the chain's length)
    total_ms: float  # their time together
    saving_ms: float  # what running them at once would save (0 where it does not apply)
    finally_succeeded: int  # retry storms whose last call succeeded


class Insight(TypedDict):
    kind: str  # n_plus_one, sequential_calls, retry_storm, cascading_timeout
    service: str  # where the calls are made (the parent's service and operation)
    operation: str
    target: str  # the repeated call, the targets in order, the end of the timeout chain
    occurrences: int
    trace_count: int  # traces with at least one occurrence
    share_pct: float  # of the traces analyzed
    evidence: InsightEvidence
    example_traces: list[str]


class Suspect(TypedDict):
    service: str  # a service, or an uninstrumented peer (a database, a queue) by the name its callers give
    operation: str  # the operation that carries most of the evidence ("" where only the wire does)
    score: float  # its share of all the suspects' evidence, 0-1
    reasons: list[str]  # sentences with numbers, strongest first


class Diagnosis(TypedDict):
    baseline_traces: int
    current_traces: int
    suspects: list[Suspect]  # most likely origin first


class ServiceCalls(TypedDict):
    call_count: int
    avg_duration_ms: float
    error_rate: float


class Edge(TypedDict):
    parent: str
    child: str
    call_count: int
    error_count: int
    connection_type: str
    p95_ms: float  # of the caller's durations, within 6 % (one bin of a logarithmic grid)


class Dependencies(TypedDict):
    services: dict[str, ServiceCalls]
    dependencies: dict[str, dict[str, int]]
    edges: list[Edge]


class Change(TypedDict):
    baseline: float
    current: float
    change_pct: float | None  # None where the baseline was 0 and the current value is not


class BottleneckSide(TypedDict):
    """One operation as a bottleneck on one side of a comparison (zeros where it was none)."""

    occurrences: int  # traces in which it was a bottleneck
    occurrence_rate: float  # per 100 traces
    mean_self_time_ms: float  # over the occurrences
    mean_share_pct: float


class BottleneckChange(TypedDict):
    service: str
    operation: str
    status: str  # new, gone, grew, shrank or same (self time per trace within 10 %)
    baseline: BottleneckSide
    current: BottleneckSide
    self_time_per_trace_change_ms: float  # its total self time per trace of the side, current - baseline


class ErrorPatternChange(TypedDict):
    service: str
    operation: str
    message: str
    classification: str
    status: str  # new, gone, grew, shrank or same (count per trace within 10 %)
    baseline_count: int
    current_count: int


class Changes(TypedDict):
    trace_count: Change
    error_rate: Change
    mean_ms: Change
    p50_ms: Change
    p95_ms: Change
    p99_ms: Change
    bottlenecks: list[BottleneckChange]
    error_patterns: list[ErrorPatternChange]


class Side(TypedDict):
    summary: Summary
    bottlenecks: list[Bottleneck]


class Comparison(TypedDict):
    baseline: Side
    current: Side
    changes: Changes


class Window(TypedDict):
    """The live report's window."""

    seconds: float  # the window reported on: the one asked for, at most the retention
    start: str | None
    end: str | None
    requested_seconds: NotRequired[float]  # present when the window asked for exceeded the retention
    overflow_traces: NotRequired[int]  # traces in the summary only: their buckets held cardinality_limit keys
    complete: bool  # whether every trace of the window could be considered
    filtered_from_recent_traces: NotRequired[int]  # with filters: the recent traces they were applied to


class Filters(TypedDict):
    """The filters a report was made with; every key present, None (or false) where not set."""

    time_range: float | None  # seconds before the newest trace's start
    since: str | None  # ISO 8601 UTC
    until: str | None
    latency_threshold_ms: float | None
    service: str | None
    errors_only: bool
    input_traces: NotRequired[int]  # batch: traces in the inputs before the filters


class Report(TypedDict):
    summary: Summary
    bottlenecks: NotRequired[list[Bottleneck]]
    critical_paths: NotRequired[list[CriticalPath]]
    critical_path_summary: NotRequired[list[CriticalPathShare]]
    errors: NotRequired[Errors]
    dependencies: NotRequired[Dependencies]
    insights: NotRequired[list[Insight]]
    filters: NotRequired[Filters]  # always present in batch and live reports; absent in a comparison's sides
    comparison: NotRequired[Comparison]
    diagnosis: NotRequired[Diagnosis]
    window: NotRequired[Window]
