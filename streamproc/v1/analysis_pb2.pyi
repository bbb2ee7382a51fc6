from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Section(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SECTION_UNSPECIFIED: _ClassVar[Section]
    SECTION_BOTTLENECKS: _ClassVar[Section]
    SECTION_CRITICAL_PATH: _ClassVar[Section]
    SECTION_ERRORS: _ClassVar[Section]
    SECTION_DEPENDENCIES: _ClassVar[Section]
    SECTION_INSIGHTS: _ClassVar[Section]
SECTION_UNSPECIFIED: Section
SECTION_BOTTLENECKS: Section
SECTION_CRITICAL_PATH: Section
SECTION_ERRORS: Section
SECTION_DEPENDENCIES: Section
SECTION_INSIGHTS: Section

class GetReportRequest(_message.Message):
    __slots__ = ("window_seconds", "sections", "top", "service", "latency_threshold_ms", "errors_only")
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SECTIONS_FIELD_NUMBER: _ClassVar[int]
    TOP_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_THRESHOLD_MS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_ONLY_FIELD_NUMBER: _ClassVar[int]
    window_seconds: float
    sections: _containers.RepeatedScalarFieldContainer[Section]
    top: int
    service: str
    latency_threshold_ms: float
    errors_only: bool
    def __init__(self, window_seconds: _Optional[float] = ..., sections: _Optional[_Iterable[_Union[Section, str]]] = ..., top: _Optional[int] = ..., service: _Optional[str] = ..., latency_threshold_ms: _Optional[float] = ..., errors_only: _Optional[bool] = ...) -> None: ...

class DiagnoseRequest(_message.Message):
    __slots__ = ("window_seconds", "baseline_seconds", "service")
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BASELINE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    window_seconds: float
    baseline_seconds: float
    service: str
    def __init__(self, window_seconds: _Optional[float] = ..., baseline_seconds: _Optional[float] = ..., service: _Optional[str] = ...) -> None: ...

class DiagnoseResponse(_message.Message):
    __slots__ = ("window", "baseline_window", "diagnosis")
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    BASELINE_WINDOW_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSIS_FIELD_NUMBER: _ClassVar[int]
    window: DiagnosisWindow
    baseline_window: DiagnosisWindow
    diagnosis: Diagnosis
    def __init__(self, window: _Optional[_Union[DiagnosisWindow, _Mapping]] = ..., baseline_window: _Optional[_Union[DiagnosisWindow, _Mapping]] = ..., diagnosis: _Optional[_Union[Diagnosis, _Mapping]] = ...) -> None: ...

class DiagnosisWindow(_message.Message):
    __slots__ = ("seconds", "start", "end")
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    seconds: float
    start: str
    end: str
    def __init__(self, seconds: _Optional[float] = ..., start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class Diagnosis(_message.Message):
    __slots__ = ("baseline_traces", "current_traces", "suspects")
    BASELINE_TRACES_FIELD_NUMBER: _ClassVar[int]
    CURRENT_TRACES_FIELD_NUMBER: _ClassVar[int]
    SUSPECTS_FIELD_NUMBER: _ClassVar[int]
    baseline_traces: int
    current_traces: int
    suspects: _containers.RepeatedCompositeFieldContainer[Suspect]
    def __init__(self, baseline_traces: _Optional[int] = ..., current_traces: _Optional[int] = ..., suspects: _Optional[_Iterable[_Union[Suspect, _Mapping]]] = ...) -> None: ...

class Suspect(_message.Message):
    __slots__ = ("service", "operation", "score", "reasons")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    service: str
    operation: str
    score: float
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, service: _Optional[str] = ..., operation: _Optional[str] = ..., score: _Optional[float] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class FindTracesRequest(_message.Message):
    __slots__ = ("service", "operation", "tags", "min_duration_nanos", "max_duration_nanos", "start_time_unix_nano", "end_time_unix_nano", "errors_only", "limit")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    MIN_DURATION_NANOS_FIELD_NUMBER: _ClassVar[int]
    MAX_DURATION_NANOS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    END_TIME_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    ERRORS_ONLY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    service: str
    operation: str
    tags: _containers.ScalarMap[str, str]
    min_duration_nanos: int
    max_duration_nanos: int
    start_time_unix_nano: int
    end_time_unix_nano: int
    errors_only: bool
    limit: int
    def __init__(self, service: _Optional[str] = ..., operation: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., min_duration_nanos: _Optional[int] = ..., max_duration_nanos: _Optional[int] = ..., start_time_unix_nano: _Optional[int] = ..., end_time_unix_nano: _Optional[int] = ..., errors_only: _Optional[bool] = ..., limit: _Optional[int] = ...) -> None: ...

class FindTracesResponse(_message.Message):
    __slots__ = ("traces",)
    TRACES_FIELD_NUMBER: _ClassVar[int]
    traces: _containers.RepeatedCompositeFieldContainer[TraceSummary]
    def __init__(self, traces: _Optional[_Iterable[_Union[TraceSummary, _Mapping]]] = ...) -> None: ...

class TraceSummary(_message.Message):
    __slots__ = ("trace_id", "root_service", "root_operation", "start_time_unix_nano", "end_time_unix_nano", "span_count", "error", "partial")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    ROOT_SERVICE_FIELD_NUMBER: _ClassVar[int]
    ROOT_OPERATION_FIELD_NUMBER: _ClassVar[int]
    START_TIME_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    END_TIME_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    SPAN_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    trace_id: bytes
    root_service: str
    root_operation: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    span_count: int
    error: bool
    partial: bool
    def __init__(self, trace_id: _Optional[bytes] = ..., root_service: _Optional[str] = ..., root_operation: _Optional[str] = ..., start_time_unix_nano: _Optional[int] = ..., end_time_unix_nano: _Optional[int] = ..., span_count: _Optional[int] = ..., error: _Optional[bool] = ..., partial: _Optional[bool] = ...) -> None: ...

class GetTraceRequest(_message.Message):
    __slots__ = ("trace_id",)
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    trace_id: bytes
    def __init__(self, trace_id: _Optional[bytes] = ...) -> None: ...

class GetTraceResponse(_message.Message):
    __slots__ = ("trace", "spans")
    TRACE_FIELD_NUMBER: _ClassVar[int]
    SPANS_FIELD_NUMBER: _ClassVar[int]
    trace: TraceSummary
    spans: _containers.RepeatedCompositeFieldContainer[Span]
    def __init__(self, trace: _Optional[_Union[TraceSummary, _Mapping]] = ..., spans: _Optional[_Iterable[_Union[Span, _Mapping]]] = ...) -> None: ...

class Span(_message.Message):
    __slots__ = ("trace_id", "span_id", "parent_span_id", "service", "name", "kind", "start_time_unix_nano", "end_time_unix_nano", "status_code", "status_message", "attributes")
    class SpanKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SPAN_KIND_UNSPECIFIED: _ClassVar[Span.SpanKind]
        SPAN_KIND_INTERNAL: _ClassVar[Span.SpanKind]
        SPAN_KIND_SERVER: _ClassVar[Span.SpanKind]
        SPAN_KIND_CLIENT: _ClassVar[Span.SpanKind]
        SPAN_KIND_PRODUCER: _ClassVar[Span.SpanKind]
        SPAN_KIND_CONSUMER: _ClassVar[Span.SpanKind]
    SPAN_KIND_UNSPECIFIED: Span.SpanKind
    SPAN_KIND_INTERNAL: Span.SpanKind
    SPAN_KIND_SERVER: Span.SpanKind
    SPAN_KIND_CLIENT: Span.SpanKind
    SPAN_KIND_PRODUCER: Span.SpanKind
    SPAN_KIND_CONSUMER: Span.SpanKind
    class StatusCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_CODE_UNSET: _ClassVar[Span.StatusCode]
        STATUS_CODE_OK: _ClassVar[Span.StatusCode]
        STATUS_CODE_ERROR: _ClassVar[Span.StatusCode]
    STATUS_CODE_UNSET: Span.StatusCode
    STATUS_CODE_OK: Span.StatusCode
    STATUS_CODE_ERROR: Span.StatusCode
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    START_TIME_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    END_TIME_UNIX_NANO_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    service: str
    name: str
    kind: Span.SpanKind
    start_time_unix_nano: int
    end_time_unix_nano: int
    status_code: Span.StatusCode
    status_message: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, trace_id: _Optional[bytes] = ..., span_id: _Optional[bytes] = ..., parent_span_id: _Optional[bytes] = ..., service: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[Span.SpanKind, str]] = ..., start_time_unix_nano: _Optional[int] = ..., end_time_unix_nano: _Optional[int] = ..., status_code: _Optional[_Union[Span.StatusCode, str]] = ..., status_message: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Report(_message.Message):
    __slots__ = ("summary", "bottlenecks", "critical_paths", "critical_path_summary", "errors", "dependencies", "filters", "window", "insights")
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    BOTTLENECKS_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_PATHS_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_PATH_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    INSIGHTS_FIELD_NUMBER: _ClassVar[int]
    summary: Summary
    bottlenecks: _containers.RepeatedCompositeFieldContainer[Bottleneck]
    critical_paths: _containers.RepeatedCompositeFieldContainer[CriticalPath]
    critical_path_summary: _containers.RepeatedCompositeFieldContainer[CriticalPathShare]
    errors: Errors
    dependencies: Dependencies
    filters: Filters
    window: Window
    insights: _containers.RepeatedCompositeFieldContainer[Insight]
    def __init__(self, summary: _Optional[_Union[Summary, _Mapping]] = ..., bottlenecks: _Optional[_Iterable[_Union[Bottleneck, _Mapping]]] = ..., critical_paths: _Optional[_Iterable[_Union[CriticalPath, _Mapping]]] = ..., critical_path_summary: _Optional[_Iterable[_Union[CriticalPathShare, _Mapping]]] = ..., errors: _Optional[_Union[Errors, _Mapping]] = ..., dependencies: _Optional[_Union[Dependencies, _Mapping]] = ..., filters: _Optional[_Union[Filters, _Mapping]] = ..., window: _Optional[_Union[Window, _Mapping]] = ..., insights: _Optional[_Iterable[_Union[Insight, _Mapping]]] = ...) -> None: ...

class TimeRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class DurationStats(_message.Message):
    __slots__ = ("min_ms", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms")
    MIN_MS_FIELD_NUMBER: _ClassVar[int]
    MEAN_MS_FIELD_NUMBER: _ClassVar[int]
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P95_MS_FIELD_NUMBER: _ClassVar[int]
    P99_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_MS_FIELD_NUMBER: _ClassVar[int]
    min_ms: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    def __init__(self, min_ms: _Optional[float] = ..., mean_ms: _Optional[float] = ..., p50_ms: _Optional[float] = ..., p95_ms: _Optional[float] = ..., p99_ms: _Optional[float] = ..., max_ms: _Optional[float] = ...) -> None: ...

class HistogramBin(_message.Message):
    __slots__ = ("le_ms", "count")
    LE_MS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    le_ms: float
    count: int
    def __init__(self, le_ms: _Optional[float] = ..., count: _Optional[int] = ...) -> None: ...

class Summary(_message.Message):
    __slots__ = ("trace_count", "span_count", "error_count", "error_span_count", "error_rate", "skipped_spans", "malformed_traces", "time_range", "duration_stats", "duration_histogram")
    TRACE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SPAN_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_SPAN_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_SPANS_FIELD_NUMBER: _ClassVar[int]
    MALFORMED_TRACES_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    DURATION_STATS_FIELD_NUMBER: _ClassVar[int]
    DURATION_HISTOGRAM_FIELD_NUMBER: _ClassVar[int]
    trace_count: int
    span_count: int
    error_count: int
    error_span_count: int
    error_rate: float
    skipped_spans: int
    malformed_traces: int
    time_range: TimeRange
    duration_stats: DurationStats
    duration_histogram: _containers.RepeatedCompositeFieldContainer[HistogramBin]
    def __init__(self, trace_count: _Optional[int] = ..., span_count: _Optional[int] = ..., error_count: _Optional[int] = ..., error_span_count: _Optional[int] = ..., error_rate: _Optional[float] = ..., skipped_spans: _Optional[int] = ..., malformed_traces: _Optional[int] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ..., duration_stats: _Optional[_Union[DurationStats, _Mapping]] = ..., duration_histogram: _Optional[_Iterable[_Union[HistogramBin, _Mapping]]] = ...) -> None: ...

class Bottleneck(_message.Message):
    __slots__ = ("service", "operation", "occurrences", "trace_count", "mean_self_time_ms", "mean_share_pct", "pattern")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCES_FIELD_NUMBER: _ClassVar[int]
    TRACE_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEAN_SELF_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    MEAN_SHARE_PCT_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    service: str
    operation: str
    occurrences: int
    trace_count: int
    mean_self_time_ms: float
    mean_share_pct: float
    pattern: str
    def __init__(self, service: _Optional[str] = ..., operation: _Optional[str] = ..., occurrences: _Optional[int] = ..., trace_count: _Optional[int] = ..., mean_self_time_ms: _Optional[float] = ..., mean_share_pct: _Optional[float] = ..., pattern: _Optional[str] = ...) -> None: ...

class PathSection(_message.Message):
    __slots__ = ("start_ms", "end_ms")
    START_MS_FIELD_NUMBER: _ClassVar[int]
    END_MS_FIELD_NUMBER: _ClassVar[int]
    start_ms: float
    end_ms: float
    def __init__(self, start_ms: _Optional[float] = ..., end_ms: _Optional[float] = ...) -> None: ...

class PathSpan(_message.Message):
    __slots__ = ("span_id", "service", "operation", "duration_ms", "critical_ms", "start_ms", "parent", "error", "sections", "off_path_spans")
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_MS_FIELD_NUMBER: _ClassVar[int]
    START_MS_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SECTIONS_FIELD_NUMBER: _ClassVar[int]
    OFF_PATH_SPANS_FIELD_NUMBER: _ClassVar[int]
    span_id: str
    service: str
    operation: str
    duration_ms: float
    critical_ms: float
    start_ms: float
    parent: int
    error: bool
    sections: _containers.RepeatedCompositeFieldContainer[PathSection]
    off_path_spans: int
    def __init__(self, span_id: _Optional[str] = ..., service: _Optional[str] = ..., operation: _Optional[str] = ..., duration_ms: _Optional[float] = ..., critical_ms: _Optional[float] = ..., start_ms: _Optional[float] = ..., parent: _Optional[int] = ..., error: _Optional[bool] = ..., sections: _Optional[_Iterable[_Union[PathSection, _Mapping]]] = ..., off_path_spans: _Optional[int] = ...) -> None: ...

class CriticalPath(_message.Message):
    __slots__ = ("trace_id", "total_duration_ms", "critical_path_duration_ms", "root_count", "span_count", "spans")
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_PATH_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    ROOT_COUNT_FIELD_NUMBER: _ClassVar[int]
    SPAN_COUNT_FIELD_NUMBER: _ClassVar[int]
    SPANS_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    total_duration_ms: float
    critical_path_duration_ms: float
    root_count: int
    span_count: int
    spans: _containers.RepeatedCompositeFieldContainer[PathSpan]
    def __init__(self, trace_id: _Optional[str] = ..., total_duration_ms: _Optional[float] = ..., critical_path_duration_ms: _Optional[float] = ..., root_count: _Optional[int] = ..., span_count: _Optional[int] = ..., spans: _Optional[_Iterable[_Union[PathSpan, _Mapping]]] = ...) -> None: ...

class CriticalPathShare(_message.Message):
    __slots__ = ("service", "operation", "total_ms", "share_pct", "trace_count")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    SHARE_PCT_FIELD_NUMBER: _ClassVar[int]
    TRACE_COUNT_FIELD_NUMBER: _ClassVar[int]
    service: str
    operation: str
    total_ms: float
    share_pct: float
    trace_count: int
    def __init__(self, service: _Optional[str] = ..., operation: _Optional[str] = ..., total_ms: _Optional[float] = ..., share_pct: _Optional[float] = ..., trace_count: _Optional[int] = ...) -> None: ...

class ErrorPattern(_message.Message):
    __slots__ = ("service", "operation", "message", "classification", "count", "share_pct", "example_traces")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SHARE_PCT_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_TRACES_FIELD_NUMBER: _ClassVar[int]
    service: str
    operation: str
    message: str
    classification: str
    count: int
    share_pct: float
    example_traces: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, service: _Optional[str] = ..., operation: _Optional[str] = ..., message: _Optional[str] = ..., classification: _Optional[str] = ..., count: _Optional[int] = ..., share_pct: _Optional[float] = ..., example_traces: _Optional[_Iterable[str]] = ...) -> None: ...

class ServiceErrors(_message.Message):
    __slots__ = ("count", "originating", "propagated", "handled", "messages", "example_traces")
    class MessagesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    COUNT_FIELD_NUMBER: _ClassVar[int]
    ORIGINATING_FIELD_NUMBER: _ClassVar[int]
    PROPAGATED_FIELD_NUMBER: _ClassVar[int]
    HANDLED_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_TRACES_FIELD_NUMBER: _ClassVar[int]
    count: int
    originating: int
    propagated: int
    handled: int
    messages: _containers.ScalarMap[str, int]
    example_traces: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, count: _Optional[int] = ..., originating: _Optional[int] = ..., propagated: _Optional[int] = ..., handled: _Optional[int] = ..., messages: _Optional[_Mapping[str, int]] = ..., example_traces: _Optional[_Iterable[str]] = ...) -> None: ...

class Errors(_message.Message):
    __slots__ = ("error_rate", "error_traces", "trace_count", "patterns", "by_service")
    class ByServiceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ServiceErrors
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ServiceErrors, _Mapping]] = ...) -> None: ...
    ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_TRACES_FIELD_NUMBER: _ClassVar[int]
    TRACE_COUNT_FIELD_NUMBER: _ClassVar[int]
    PATTERNS_FIELD_NUMBER: _ClassVar[int]
    BY_SERVICE_FIELD_NUMBER: _ClassVar[int]
    error_rate: float
    error_traces: int
    trace_count: int
    patterns: _containers.RepeatedCompositeFieldContainer[ErrorPattern]
    by_service: _containers.MessageMap[str, ServiceErrors]
    def __init__(self, error_rate: _Optional[float] = ..., error_traces: _Optional[int] = ..., trace_count: _Optional[int] = ..., patterns: _Optional[_Iterable[_Union[ErrorPattern, _Mapping]]] = ..., by_service: _Optional[_Mapping[str, ServiceErrors]] = ...) -> None: ...

class InsightEvidence(_message.Message):
    __slots__ = ("calls", "total_ms", "saving_ms", "finally_succeeded")
    CALLS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    SAVING_MS_FIELD_NUMBER: _ClassVar[int]
    FINALLY_SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    calls: float
    total_ms: float
    saving_ms: float
    finally_succeeded: int
    def __init__(self, calls: _Optional[float] = ..., total_ms: _Optional[float] = ..., saving_ms: _Optional[float] = ..., finally_succeeded: _Optional[int] = ...) -> None: ...

class Insight(_message.Message):
    __slots__ = ("kind", "service", "operation", "target", "occurrences", "trace_count", "share_pct", "evidence", "example_traces")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCES_FIELD_NUMBER: _ClassVar[int]
    TRACE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SHARE_PCT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_TRACES_FIELD_NUMBER: _ClassVar[int]
    kind: str
    service: str
    operation: str
    target: str
    occurrences: int
    trace_count: int
    share_pct: float
    evidence: InsightEvidence
    example_traces: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kind: _Optional[str] = ..., service: _Optional[str] = ..., operation: _Optional[str] = ..., target: _Optional[str] = ..., occurrences: _Optional[int] = ..., trace_count: _Optional[int] = ..., share_pct: _Optional[float] = ..., evidence: _Optional[_Union[InsightEvidence, _Mapping]] = ..., example_traces: _Optional[_Iterable[str]] = ...) -> None: ...

class ServiceCalls(_message.Message):
    __slots__ = ("call_count", "avg_duration_ms", "error_rate")
    CALL_COUNT_FIELD_NUMBER: _ClassVar[int]
    AVG_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    call_count: int
    avg_duration_ms: float
    error_rate: float
    def __init__(self, call_count: _Optional[int] = ..., avg_duration_ms: _Optional[float] = ..., error_rate: _Optional[float] = ...) -> None: ...

class Edge(_message.Message):
    __slots__ = ("parent", "child", "call_count", "error_count", "connection_type", "p95_ms")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    CHILD_FIELD_NUMBER: _ClassVar[int]
    CALL_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_COUNT_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    P95_MS_FIELD_NUMBER: _ClassVar[int]
    parent: str
    child: str
    call_count: int
    error_count: int
    connection_type: str
    p95_ms: float
    def __init__(self, parent: _Optional[str] = ..., child: _Optional[str] = ..., call_count: _Optional[int] = ..., error_count: _Optional[int] = ..., connection_type: _Optional[str] = ..., p95_ms: _Optional[float] = ...) -> None: ...

class ChildCalls(_message.Message):
    __slots__ = ("calls",)
    class CallsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    CALLS_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.ScalarMap[str, int]
    def __init__(self, calls: _Optional[_Mapping[str, int]] = ...) -> None: ...

class Dependencies(_message.Message):
    __slots__ = ("services", "dependencies", "edges")
    class ServicesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ServiceCalls
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ServiceCalls, _Mapping]] = ...) -> None: ...
    class DependenciesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ChildCalls
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ChildCalls, _Mapping]] = ...) -> None: ...
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    services: _containers.MessageMap[str, ServiceCalls]
    dependencies: _containers.MessageMap[str, ChildCalls]
    edges: _containers.RepeatedCompositeFieldContainer[Edge]
    def __init__(self, services: _Optional[_Mapping[str, ServiceCalls]] = ..., dependencies: _Optional[_Mapping[str, ChildCalls]] = ..., edges: _Optional[_Iterable[_Union[Edge, _Mapping]]] = ...) -> None: ...

class Window(_message.Message):
    __slots__ = ("seconds", "start", "end", "requested_seconds", "overflow_traces", "complete", "filtered_from_recent_traces")
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    OVERFLOW_TRACES_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    FILTERED_FROM_RECENT_TRACES_FIELD_NUMBER: _ClassVar[int]
    seconds: float
    start: str
    end: str
    requested_seconds: float
    overflow_traces: int
    complete: bool
    filtered_from_recent_traces: int
    def __init__(self, seconds: _Optional[float] = ..., start: _Optional[str] = ..., end: _Optional[str] = ..., requested_seconds: _Optional[float] = ..., overflow_traces: _Optional[int] = ..., complete: _Optional[bool] = ..., filtered_from_recent_traces: _Optional[int] = ...) -> None: ...

class Filters(_message.Message):
    __slots__ = ("time_range", "since", "until", "latency_threshold_ms", "service", "errors_only", "input_traces")
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    LATENCY_THRESHOLD_MS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ERRORS_ONLY_FIELD_NUMBER: _ClassVar[int]
    INPUT_TRACES_FIELD_NUMBER: _ClassVar[int]
    time_range: float
    since: str
    until: str
    latency_threshold_ms: float
    service: str
    errors_only: bool
    input_traces: int
    def __init__(self, time_range: _Optional[float] = ..., since: _Optional[str] = ..., until: _Optional[str] = ..., latency_threshold_ms: _Optional[float] = ..., service: _Optional[str] = ..., errors_only: _Optional[bool] = ..., input_traces: _Optional[int] = ...) -> None: ...
