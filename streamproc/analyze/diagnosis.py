"""Diagnosis (DESIGN section 11): which service, and which of its operations, most likely started the
change between a baseline and a current set of traces, from what traces alone show.

Per trace, each span's self time (its duration less its children's union) goes to where the time was
spent: the span's own (service, operation); or, for a span whose children all run in other services, the
wait on the wire between caller and callee (network and queueing, which the callee's own spans never show),
counted against the callee; or, for a call to an uninstrumented peer (a database, a queue), that peer's
own work. Originating errors count against the operation where they start (the peer's, for a failed call
to one). And each operation's calls per call of its parent are kept, so a subtree that ends early shows
at the operation that stopped calling.

`diagnose` compares two `DiagnosisStats` in three channels, each a share of its total change, weighted by
how large that total change is against the baseline:
* time: self time per trace grown, and wire time per trace grown (callee's network);
* errors: originating errors per trace new or grown;
* structure: calls per call of the parent changed, operations appeared or vanished.
A service's score sums its channels; its operation is the one that carries most of it. Deterministic:
ties break by name. Nothing reads span kinds or status beyond the errors channel, so traces without them
(only times and parent links) are diagnosed from time and structure.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from streamproc.analyze.dependencies import virtual_peer
from streamproc.analyze.error_origins import ErrorClass
from streamproc.analyze.schema import Diagnosis, Suspect
from streamproc.analyze.text import error_message
from streamproc.analyze.tree import TraceTree
from streamproc.model import SpanKind
from streamproc.units import NS_PER_MS

OpKey = tuple[str, str]  # service, operation
WIRE = "(calls to it)"  # the operation name wire time is kept under, per callee
_CALLERS = (SpanKind.CLIENT, SpanKind.PRODUCER)
_MESSAGES = 20  # error messages kept per operation
#: Full weight for a channel at: mean self time per trace grown by 5 % of the baseline's mean trace
#: duration; 1 originating error more per 200 traces; 0.2 calls per parent call changed in total.
_TIME_SIGNIFICANT = 0.05
_ERRORS_SIGNIFICANT = 0.005
_STRUCTURE_SIGNIFICANT = 0.2
_ERRORS_Z = 3.0
_TIME_Z = 3.0
_STRUCTURE_Z = 3.0
_SHRINK_WEIGHT = 0.5  # a weaker sign than growth: less work can be good news
SUSPECTS = 5


@dataclass(slots=True)
class OpStats:
    spans: int = 0
    self_ns: int = 0
    self_sq_ns: int = 0  # sum of squared self times, ns²: the noise a change is judged against
    originating: int = 0
    messages: Counter[str] = field(default_factory=Counter)

    def merge(self, other: OpStats) -> None:
        self.spans += other.spans
        self.self_ns += other.self_ns
        self.self_sq_ns += other.self_sq_ns
        self.originating += other.originating
        self.messages.update(other.messages)
        if len(self.messages) > _MESSAGES:
            self.messages = Counter(
                dict(sorted(self.messages.items(), key=lambda m: (-m[1], m[0]))[:_MESSAGES])
            )


class DiagnosisStats:
    """What `diagnose` compares, for one set of traces; merged like every analyzer."""

    def __init__(self) -> None:
        self.traces = 0
        self.duration_ns = 0
        self.ops: dict[OpKey, OpStats] = {}  # where time and errors were counted
        # Plain dicts counted in loops: Counter.update is interpreted code, called twice per trace.
        self.calls: dict[OpKey, int] = {}  # spans per operation
        self.children: dict[tuple[OpKey, OpKey], int] = {}  # (parent op, child op) -> calls
        self.links: set[tuple[str, str]] = set()  # (caller, callee) services, uninstrumented peers included

    def observe(
        self, tree: TraceTree, self_ns: list[int], error_classes: list[tuple[int, ErrorClass]]
    ) -> None:
        self.traces += 1
        self.duration_ns += tree.duration_ns
        spans = tree.spans
        children = tree.children
        keys: list[OpKey] = [(span.service, span.name) for span in spans]
        ops, links = self.ops, self.links
        calls, pairs = self.calls, self.children
        for index, span in enumerate(spans):
            key = where = keys[index]
            calls[key] = calls.get(key, 0) + 1
            kids = children[index]
            if kids:
                service = key[0]
                local = False
                for kid in kids:
                    kid_key = keys[kid]
                    pair = (key, kid_key)
                    pairs[pair] = pairs.get(pair, 0) + 1
                    if kid_key[0] == service:
                        local = True
                    else:
                        links.add((service, kid_key[0]))
                if not local:  # every child in another service: waiting on it, the wire's time
                    where = (keys[kids[0]][0], WIRE)
            elif span.kind in _CALLERS and (peer := virtual_peer(span)) is not None:
                where = (peer[0], span.name)  # an uninstrumented peer's own work
                links.add((key[0], peer[0]))
            stats = ops.get(where)
            if stats is None:
                stats = ops[where] = OpStats()
            own = self_ns[index]
            stats.spans += 1
            stats.self_ns += own
            stats.self_sq_ns += own * own
        if error_classes:
            self._observe_errors(tree, keys, error_classes)

    def _observe_errors(
        self, tree: TraceTree, keys: list[OpKey], error_classes: list[tuple[int, ErrorClass]]
    ) -> None:
        for index, classification in error_classes:
            if classification is ErrorClass.ORIGINATING:
                span = tree.spans[index]
                peer = virtual_peer(span) if not tree.children[index] and span.kind in _CALLERS else None
                where = (peer[0], span.name) if peer is not None else keys[index]
                stats = self.ops.get(where)
                if stats is None:
                    stats = self.ops[where] = OpStats()
                stats.originating += 1
                stats.messages[error_message(span)] += 1

    def merge(self, other: DiagnosisStats) -> None:
        self.traces += other.traces
        self.duration_ns += other.duration_ns
        for key, stats in other.ops.items():
            self.ops.setdefault(key, OpStats()).merge(stats)
        for key, count in other.calls.items():
            self.calls[key] = self.calls.get(key, 0) + count
        for pair, count in other.children.items():
            self.children[pair] = self.children.get(pair, 0) + count
        self.links |= other.links


@dataclass(slots=True)
class _Evidence:
    score: float = 0.0
    by_op: dict[str, float] = field(default_factory=dict)
    reasons: list[tuple[float, str]] = field(default_factory=list)


def diagnose(baseline: DiagnosisStats, current: DiagnosisStats, *, service: str | None = None) -> Diagnosis:
    """The suspects, most likely origin first (at most SUSPECTS); `service` starts from an alerting service:
    only it and the services it calls, directly or not, are ranked."""
    if baseline.traces == 0 or current.traces == 0:
        return {"baseline_traces": baseline.traces, "current_traces": current.traces, "suspects": []}
    evidence: dict[str, _Evidence] = {}
    _time_channel(baseline, current, evidence)
    _error_channel(baseline, current, evidence)
    _structure_channel(baseline, current, evidence)
    _shrink_channel(baseline, current, evidence)
    allowed = _downstream(baseline, current, service) if service else None
    ranked = sorted(
        ((name, e) for name, e in evidence.items() if e.score > 0 and (allowed is None or name in allowed)),
        key=lambda item: (-round(item[1].score, 9), item[0]),
    )
    total = sum(e.score for _, e in ranked) or 1.0
    suspects: list[Suspect] = []
    for name, e in ranked[:SUSPECTS]:
        operation = min(e.by_op.items(), key=lambda o: (-round(o[1], 9), o[0]))[0] if e.by_op else ""
        suspects.append(
            {
                "service": name,
                "operation": operation,
                "score": round(e.score / total, 3),
                "reasons": [text for _, text in sorted(e.reasons, key=lambda r: (-round(r[0], 9), r[1]))],
            }
        )
    return {"baseline_traces": baseline.traces, "current_traces": current.traces, "suspects": suspects}


def _standard_error(stats: OpStats | None, traces: int) -> float:
    """Of an operation's self time per trace, ms: its spans per trace times their second moment, over the
    traces (a compound Poisson sum's variance), as the noise a change must clear."""
    if stats is None or not stats.spans:
        return 0.0
    return math.sqrt(stats.self_sq_ns / NS_PER_MS**2 / traces) / math.sqrt(traces)


def _per_trace_ms(ns: int, traces: int) -> float:
    return ns / traces / NS_PER_MS


def _time_channel(baseline: DiagnosisStats, current: DiagnosisStats, evidence: dict[str, _Evidence]) -> None:
    grown: list[tuple[OpKey, float, float, float]] = []
    for key in sorted(set(baseline.ops) | set(current.ops)):
        b, c = baseline.ops.get(key), current.ops.get(key)
        before = _per_trace_ms(b.self_ns, baseline.traces) if b else 0.0
        after = _per_trace_ms(c.self_ns, current.traces) if c else 0.0
        noise = math.hypot(_standard_error(b, baseline.traces), _standard_error(c, current.traces))
        if after - before > _TIME_Z * noise:
            grown.append((key, before, after, after - before))
    total = sum(g[3] for g in grown)
    if total <= 0:
        return
    mean_ms = _per_trace_ms(baseline.duration_ns, baseline.traces) or 1.0
    mean_growth = _per_trace_ms(current.duration_ns, current.traces) - mean_ms
    weight = min(1.0, total / (_TIME_SIGNIFICANT * mean_ms))
    by_service: dict[str, float] = {}
    for (service, _operation), _before, _after, delta in grown:
        by_service[service] = by_service.get(service, 0.0) + delta
    for service, delta in by_service.items():
        if mean_growth > 0 and delta >= 0.5 * mean_growth:
            share = weight * delta / total
            text = (
                f"its time per trace grew +{delta:.1f} ms while traces grew +{mean_growth:.1f} ms on "
                "average: the growth is its own, and its callers' is explained by it"
            )
            evidence.setdefault(service, _Evidence()).reasons.append((share * 0.999, text))
    for (service, operation), before, after, delta in grown:
        share = weight * delta / total
        e = evidence.setdefault(service, _Evidence())
        e.score += share
        if operation == WIRE:
            text = (
                f"time on the wire to {service} (its callers' spans minus its own) per trace "
                f"{before:.1f} → {after:.1f} ms (+{delta:.1f} ms): network or queueing before it"
            )
        else:
            e.by_op[operation] = e.by_op.get(operation, 0.0) + share
            text = (
                f"{operation}: self time per trace {before:.1f} → {after:.1f} ms "
                f"(+{delta:.1f} ms{_pct(before, after)})"
            )
        if share >= 0.01:
            e.reasons.append((share, text))


def _error_channel(baseline: DiagnosisStats, current: DiagnosisStats, evidence: dict[str, _Evidence]) -> None:
    grown: list[tuple[OpKey, float, float, OpStats]] = []
    for key in sorted(set(current.ops)):
        stats = current.ops[key]
        if not stats.originating:
            continue
        before_stats = baseline.ops.get(key)
        count_before = before_stats.originating if before_stats else 0
        # Background errors come and go: a rise counts only when it is well beyond the baseline's rate
        # (Poisson, three standard deviations; half an error of prior where the baseline had none).
        expected = (count_before + 0.5) * current.traces / baseline.traces
        if (stats.originating - expected) / math.sqrt(expected + 1) < _ERRORS_Z:
            continue
        grown.append((key, count_before / baseline.traces, stats.originating / current.traces, stats))
    total = sum(after - before for _, before, after, _ in grown)
    if total <= 0:
        return
    weight = min(1.0, total / _ERRORS_SIGNIFICANT)
    for (service, operation), before, after, stats in grown:
        share = weight * (after - before) / total
        e = evidence.setdefault(service, _Evidence())
        e.score += share
        e.by_op[operation] = e.by_op.get(operation, 0.0) + share
        message = min(stats.messages.items(), key=lambda m: (-m[1], m[0]))[0] if stats.messages else ""
        status = "new originating error" if before == 0 else "originating errors grown"
        text = f"{operation}: {status} {message!r} in {100 * before:.2f} → {100 * after:.2f} % of traces"
        e.reasons.append((share, text))


def _structure_channel(
    baseline: DiagnosisStats, current: DiagnosisStats, evidence: dict[str, _Evidence]
) -> None:
    """Calls per call of the parent, per (parent op, child op) pair: a change shows at the parent that
    changed what it calls. Operations that appear (or vanish) under an unchanged parent count too."""
    changes: list[tuple[OpKey, OpKey, float, float]] = []
    for pair in sorted(set(baseline.children) | set(current.children)):
        parent = pair[0]
        b_calls, c_calls = baseline.calls.get(parent, 0), current.calls.get(parent, 0)
        if not b_calls or not c_calls:
            continue  # the parent itself appeared or vanished: its own parent's change says so
        b_children, c_children = baseline.children.get(pair, 0), current.children.get(pair, 0)
        before, after = b_children / b_calls, c_children / c_calls
        if _structure_z(b_children, b_calls, c_children, c_calls) >= _STRUCTURE_Z:
            changes.append((parent, pair[1], before, after))
    total = sum(abs(a - b) for _, _, b, a in changes)
    if total <= 0:
        return
    weight = min(1.0, total / _STRUCTURE_SIGNIFICANT)
    for (service, operation), (child_service, child_op), before, after in changes:
        share = weight * abs(after - before) / total
        e = evidence.setdefault(service, _Evidence())
        e.score += share
        e.by_op[operation] = e.by_op.get(operation, 0.0) + share
        what = "appeared" if before == 0 else "vanished" if after == 0 else "changed"
        text = (
            f"{operation}: calls to {child_service} {child_op} per call {before:.2f} → {after:.2f} ({what})"
        )
        if share >= 0.01:
            e.reasons.append((share, text))


def _structure_z(b_children: int, b_calls: int, c_children: int, c_calls: int) -> float:
    """How far the current calls per parent call lie from the baseline's, in standard deviations: binomial
    where a call makes the child call at most once (a call that always makes it varies little), Poisson
    beyond (two proportions, pooled)."""
    pooled = (b_children + c_children) / (b_calls + c_calls)
    spread = pooled * (1 - pooled) if pooled < 1 else pooled
    error = math.sqrt(spread * (1 / b_calls + 1 / c_calls)) + 1 / (b_calls + c_calls)
    return abs(c_children / c_calls - b_children / b_calls) / error


def _shrink_channel(
    baseline: DiagnosisStats, current: DiagnosisStats, evidence: dict[str, _Evidence]
) -> None:
    """Self time per call shrunk beyond noise: work that ends early, as a failure without error status
    does. (Calls that vanish leave the time per call of what remains as it was.)"""
    shrunk: list[tuple[OpKey, float, float, float]] = []
    for key in sorted(set(baseline.ops) & set(current.ops)):
        b, c = baseline.ops[key], current.ops[key]
        if key[1] == WIRE or b.spans < 2 or c.spans < 2:
            continue
        before, after = b.self_ns / b.spans / NS_PER_MS, c.self_ns / c.spans / NS_PER_MS
        noise = math.hypot(_per_call_error(b), _per_call_error(c))
        if before - after > _TIME_Z * noise:
            shrunk.append((key, before, after, (before - after) * c.spans / current.traces))
    total = sum(item[3] for item in shrunk)
    if total <= 0:
        return
    mean_ms = _per_trace_ms(baseline.duration_ns, baseline.traces) or 1.0
    weight = _SHRINK_WEIGHT * min(1.0, total / (_TIME_SIGNIFICANT * mean_ms))
    for (service, operation), before, after, lost in shrunk:
        share = weight * lost / total
        e = evidence.setdefault(service, _Evidence())
        e.score += share
        e.by_op[operation] = e.by_op.get(operation, 0.0) + share
        text = f"{operation}: self time per call shrank {before:.1f} → {after:.1f} ms (its work ends early)"
        if share >= 0.01:
            e.reasons.append((share, text))


def _per_call_error(stats: OpStats) -> float:
    mean = stats.self_ns / stats.spans / NS_PER_MS
    variance = max(0.0, stats.self_sq_ns / NS_PER_MS**2 / stats.spans - mean * mean)
    return math.sqrt(variance / stats.spans)


def _downstream(baseline: DiagnosisStats, current: DiagnosisStats, service: str) -> set[str]:
    """The service and every service it calls, directly or not, on either side."""
    edges: dict[str, set[str]] = {}
    for caller, callee in baseline.links | current.links:
        edges.setdefault(caller, set()).add(callee)
    found, todo = {service}, [service]
    while todo:
        for child in edges.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _pct(before: float, after: float) -> str:
    return f", {100 * (after - before) / before:+.0f} %" if before > 0 else ", new"
