"""Insights: patterns in a trace that explain where time goes (DESIGN section 11; anchor: Sentry's
performance detectors). Found per trace among each span's children, aggregated per (kind, service,
operation, target):

* n_plus_one: at least `n_plus_one_min_calls` sibling spans with the same service and normalised statement
  (or operation), running one after another, together at least `n_plus_one_min_ms`.
* sequential_calls: at least 2 sibling calls to different targets, one after another with no overlap,
  whose potential saving run in parallel (sum - max) is at least `sequential_min_saving_ms` and
  `sequential_min_share_pct` of the trace.
* retry_storm: at least `retry_min_calls` sibling calls to the same target in a row where all but the last
  failed (the last may have succeeded: `finally succeeded` in the evidence).
* cascading_timeout: a timeout error whose erroring child is a timeout too; reported once, at the top of
  the chain, with the chain's length.

The service and operation are the parent's: where the calls are made, so where the fix goes. A call is a
CLIENT or PRODUCER span, or, in exports without span kinds, a child in another service than its parent.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from streamproc.analyze.schema import Insight as InsightRow
from streamproc.analyze.text import normalize_statement
from streamproc.analyze.tree import TraceTree
from streamproc.model import Span, SpanKind, StatusCode
from streamproc.pickling import frozen_reduce
from streamproc.units import NS_PER_MS, ms

EXAMPLES = 3
_TIMEOUT = re.compile(r"time[ -_]?out|timed out|deadline[ _]exceeded|\b(?:504|408)\b", re.IGNORECASE)
_CALL_KINDS = (SpanKind.CLIENT, SpanKind.PRODUCER)


class InsightKind(enum.Enum):
    N_PLUS_ONE = "n_plus_one"
    SEQUENTIAL_CALLS = "sequential_calls"
    RETRY_STORM = "retry_storm"
    CASCADING_TIMEOUT = "cascading_timeout"


@dataclass(frozen=True, slots=True, kw_only=True)
class InsightOptions:
    n_plus_one_min_calls: int = 5
    n_plus_one_min_ms: float = 50.0
    sequential_min_saving_ms: float = 100.0
    sequential_min_share_pct: float = 10.0
    retry_min_calls: int = 3

    def problems(self) -> list[str]:
        found = []
        if self.n_plus_one_min_calls < 2:
            found.append("--n-plus-one-min-calls must be at least 2")
        if self.retry_min_calls < 2:
            found.append("--retry-min-calls must be at least 2")
        for name in ("n_plus_one_min_ms", "sequential_min_saving_ms", "sequential_min_share_pct"):
            value = getattr(self, name)
            if not 0 <= value < float("inf"):
                found.append(f"--{name.replace('_', '-')} must be a number from 0 up")
        return found

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return frozen_reduce(self)


class Insight(NamedTuple):
    """One insight in one trace."""

    kind: InsightKind
    service: str
    operation: str
    target: str  # the repeated call, the targets in order, the chain's last span
    calls: int  # spans in the group (the chain's length for a cascading timeout)
    total_ns: int  # their time together
    saving_ns: int  # what running them at once would save (0 where it does not apply)
    succeeded: bool = False  # retry storm: the last call succeeded


def find_insights(tree: TraceTree, options: InsightOptions) -> list[Insight]:
    spans = tree.spans
    found: list[Insight] = []
    least_saving = options.sequential_min_saving_ms * NS_PER_MS
    least_share = options.sequential_min_share_pct * tree.duration_ns / 100
    for parent, kids in enumerate(tree.children):
        if len(kids) < 2:
            continue
        # Cheap tests first, as most parents have none of the patterns: enough siblings of one operation
        # for a repeat; calls whose saving run in parallel could reach the threshold (a run's saving is at
        # most all the calls' sum - max).
        repeats = len(kids) >= min(options.n_plus_one_min_calls, options.retry_min_calls) and _any_repeat(
            spans, kids, options
        )
        owner = spans[parent]
        calls = total = longest = 0  # of the calls among the siblings: how many, their durations' sum and max
        for i in kids:
            sibling = spans[i]
            if sibling.kind in _CALL_KINDS or _other_service(sibling, owner):
                duration = sibling.end_ns - sibling.start_ns
                calls += 1
                total += duration
                if duration > longest:  # noqa: PLR1730 - a comparison, not a call to max()
                    longest = duration
        sequential = calls >= 2 and (saving := total - longest) >= least_saving and saving >= least_share
        if repeats or sequential:
            ordered = sorted(kids, key=lambda i: (spans[i].start_ns, spans[i].end_ns, i))
            found += _sibling_insights(tree, parent, ordered, options, sequential=sequential)
    found += _cascading_timeouts(tree)
    return found


def _other_service(span: Span, owner: Span) -> bool:
    return span.kind is SpanKind.UNSPECIFIED and span.service != owner.service


def _any_repeat(spans: tuple[Span, ...], kids: tuple[int, ...], options: InsightOptions) -> bool:
    least = min(options.n_plus_one_min_calls, options.retry_min_calls)
    counts: dict[tuple[str, str], int] = {}
    for index in kids:
        span = spans[index]
        key = (span.service, span.name)
        count = counts[key] = counts.get(key, 0) + 1
        if count >= least:
            return True
    return False


def _sibling_insights(
    tree: TraceTree, parent: int, kids: list[int], options: InsightOptions, *, sequential: bool = True
) -> list[Insight]:
    spans = tree.spans
    owner = spans[parent]
    found: list[Insight] = []
    for (service, key), members in _repeat_groups(spans, kids, options).items():
        target = f"{service}: {key}"
        storms = (
            _retry_storms(owner, spans, members, target, options.retry_min_calls)
            if len(members) >= options.retry_min_calls
            else []
        )
        found += storms
        if storms or len(members) < options.n_plus_one_min_calls:
            continue  # retries are not an N+1
        run = _longest_sequential_run(spans, members)
        total = sum(spans[i].end_ns - spans[i].start_ns for i in run)
        if len(run) >= options.n_plus_one_min_calls and total >= options.n_plus_one_min_ms * NS_PER_MS:
            longest = max(spans[i].end_ns - spans[i].start_ns for i in run)
            found.append(
                Insight(
                    InsightKind.N_PLUS_ONE,
                    owner.service,
                    owner.name,
                    target,
                    len(run),
                    total,
                    total - longest,
                )
            )
    if sequential:
        calls = [i for i in kids if spans[i].kind in _CALL_KINDS or _other_service(spans[i], owner)]
        found += _sequential_calls(tree, owner, calls, options)
    return found


def _repeat_groups(
    spans: tuple[Span, ...], kids: list[int], options: InsightOptions
) -> dict[tuple[str, str], list[int]]:
    """Siblings by service and normalised statement (or operation), only where enough of them share a
    service and operation for a pattern: the statements of the rest are never normalised."""
    least = min(options.n_plus_one_min_calls, options.retry_min_calls)
    by_name: dict[tuple[str, str], list[int]] = {}
    for index in kids:
        span = spans[index]
        by_name.setdefault((span.service, span.name), []).append(index)
    groups: dict[tuple[str, str], list[int]] = {}
    for (service, name), members in by_name.items():
        if len(members) < least:
            continue
        for index in members:
            statement = spans[index].attributes.db_statement
            key = normalize_statement(statement) if statement else name
            groups.setdefault((service, key), []).append(index)
    return groups


def _longest_sequential_run(spans: tuple[Span, ...], members: list[int]) -> list[int]:
    """The longest run of members (in start order) each starting at or after the previous one's end."""
    best: list[int] = []
    run: list[int] = []
    for index in members:
        if run and spans[index].start_ns < spans[run[-1]].end_ns:
            if len(run) > len(best):
                best = run
            run = []
        run.append(index)
    return run if len(run) > len(best) else best


def _retry_storms(
    owner: Span, spans: tuple[Span, ...], members: list[int], target: str, least: int
) -> list[Insight]:
    found = []
    failed: list[int] = []
    for index in [*members, -1]:
        if index >= 0 and spans[index].status is StatusCode.ERROR:
            failed.append(index)
            continue
        group = [*failed, index] if index >= 0 and failed else failed
        if len(group) >= least and len(failed) >= least - 1:
            total = sum(spans[i].end_ns - spans[i].start_ns for i in group)
            succeeded = index >= 0
            found.append(
                Insight(
                    InsightKind.RETRY_STORM,
                    owner.service,
                    owner.name,
                    target,
                    len(group),
                    total,
                    0,
                    succeeded,
                )
            )
        failed = []
    return found


def _call_target(tree: TraceTree, owner: Span, index: int) -> str:
    """Whom a call goes to: the peer its attributes name, else the service it runs in (when that is not
    its caller's), else the service of its child in another service, else its own name."""
    span = tree.spans[index]
    a = span.attributes
    named = a.peer_service or a.db_system or a.messaging_system or a.server_address or a.net_peer_name
    if named:
        return named
    if span.service != owner.service:
        return span.service
    for kid in tree.children[index]:
        if tree.spans[kid].service != span.service:
            return tree.spans[kid].service
    return span.name


def _sequential_calls(
    tree: TraceTree, owner: Span, calls: list[int], options: InsightOptions
) -> list[Insight]:
    spans = tree.spans
    found = []
    run: list[int] = []
    for index in [*calls, -1]:
        if index >= 0 and (not run or spans[index].start_ns >= spans[run[-1]].end_ns):
            run.append(index)
            continue
        targets = list(dict.fromkeys(_call_target(tree, owner, i) for i in run))
        if len(targets) >= 2:
            durations = [spans[i].end_ns - spans[i].start_ns for i in run]
            saving = sum(durations) - max(durations)
            share_ok = saving * 100 >= options.sequential_min_share_pct * tree.duration_ns
            if saving >= options.sequential_min_saving_ms * NS_PER_MS and share_ok:
                found.append(
                    Insight(
                        InsightKind.SEQUENTIAL_CALLS,
                        owner.service,
                        owner.name,
                        " → ".join(targets),
                        len(run),
                        sum(durations),
                        saving,
                    )
                )
        run = [index] if index >= 0 else []
    return found


def is_timeout(span: Span) -> bool:
    if span.status is not StatusCode.ERROR:
        return False
    a = span.attributes
    texts = (span.status_message, a.exception_type or "", a.exception_message or "", a.http_status_code or "")
    return any(text and _TIMEOUT.search(text) for text in texts)


def _cascading_timeouts(tree: TraceTree) -> list[Insight]:
    if tree.error_span_count < 2:
        return []
    spans = tree.spans
    timeouts = {i for i, span in enumerate(spans) if span.status is StatusCode.ERROR and is_timeout(span)}
    if len(timeouts) < 2:
        return []
    below = {i: [k for k in tree.children[i] if k in timeouts] for i in timeouts}
    has_timeout_parent = {k for kids in below.values() for k in kids}
    found = []
    for top in sorted(timeouts - has_timeout_parent):
        if not below[top]:
            continue
        chain = [top]
        while below[chain[-1]] and len(chain) <= len(timeouts):
            chain.append(max(below[chain[-1]], key=lambda k: (spans[k].end_ns - spans[k].start_ns, -k)))
        last, head = spans[chain[-1]], spans[top]
        found.append(
            Insight(
                InsightKind.CASCADING_TIMEOUT,
                head.service,
                head.name,
                f"{last.service}: {last.name}",
                len(chain),
                head.end_ns - head.start_ns,
                0,
            )
        )
    return found


# --- aggregation ------------------------------------------------------------------------------------------

InsightKey = tuple[str, str, str, str]  # kind, service, operation, target


@dataclass(slots=True)
class InsightStats:
    occurrences: int = 0
    traces: int = 0
    calls: int = 0
    total_ns: int = 0
    saving_ns: int = 0
    succeeded: int = 0
    examples: list[tuple[int, str]] = field(default_factory=list)  # (-saving or -total, trace id), best first

    def merge(self, other: InsightStats) -> None:
        self.occurrences += other.occurrences
        self.traces += other.traces
        self.calls += other.calls
        self.total_ns += other.total_ns
        self.saving_ns += other.saving_ns
        self.succeeded += other.succeeded
        self.examples = sorted({*self.examples, *other.examples})[:EXAMPLES]


class InsightAnalyzer:
    def __init__(self) -> None:
        self.trace_count = 0
        self.stats: dict[InsightKey, InsightStats] = {}

    def observe(self, tree: TraceTree, found: list[Insight]) -> None:
        self.trace_count += 1
        if not found:
            return
        trace_id = tree.trace_id.hex()
        seen: set[InsightKey] = set()
        for insight in found:
            key = (insight.kind.value, insight.service, insight.operation, insight.target)
            stats = self.stats.get(key)
            if stats is None:
                stats = self.stats[key] = InsightStats()
            stats.occurrences += 1
            stats.calls += insight.calls
            stats.total_ns += insight.total_ns
            stats.saving_ns += insight.saving_ns
            stats.succeeded += insight.succeeded
            if key not in seen:
                seen.add(key)
                stats.traces += 1
                example = (-(insight.saving_ns or insight.total_ns), trace_id)
                if len(stats.examples) < EXAMPLES or example < stats.examples[-1]:
                    stats.examples = sorted({*stats.examples, example})[:EXAMPLES]

    def merge(self, other: InsightAnalyzer) -> None:
        self.trace_count += other.trace_count
        for key, stats in other.stats.items():
            self.stats.setdefault(key, InsightStats()).merge(stats)

    def report(self, *, top: int | None = None) -> list[InsightRow]:
        """Most time at stake first: the saving where there is one, else the time the pattern took."""
        ranked = sorted(
            self.stats.items(), key=lambda item: (-(item[1].saving_ns or item[1].total_ns), item[0])
        )
        rows: list[InsightRow] = []
        for (kind, service, operation, target), stats in ranked[:top]:
            n = stats.occurrences
            rows.append(
                {
                    "kind": kind,
                    "service": service,
                    "operation": operation,
                    "target": target,
                    "occurrences": n,
                    "trace_count": stats.traces,
                    "share_pct": round(100 * stats.traces / self.trace_count, 2) if self.trace_count else 0.0,
                    "evidence": {
                        "calls": round(stats.calls / n, 2),
                        "total_ms": ms(stats.total_ns / n),
                        "saving_ms": ms(stats.saving_ns / n),
                        "finally_succeeded": stats.succeeded,
                    },
                    "example_traces": [trace_id for _, trace_id in stats.examples],
                }
            )
        return rows
