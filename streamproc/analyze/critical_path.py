"""Critical path: the Jaeger UI algorithm, with its known bugs fixed (DESIGN section 5).

1. PRODUCER -> CONSUMER subtrees are dropped (the producer does not wait for them).
2. Parents first, each child is clamped to its parent's (already clamped) interval; a child entirely
   outside its parent is dropped with its subtree.
3. From a root's end walk backwards: take the last-finishing child, not yet visited, that ended at or before
   the current point (ties: the earlier-starting child, then the lower span id); the gap between that
   child's end and the point belongs to the parent. With no such child left, the parent owns the time back
   to its own start, and the walk returns to its parent at this span's start.

Jaeger compares ends strictly (`<`), which drops back-to-back children, and re-examines visited children,
which can loop on a zero-length child at the point the walk returns to; both are fixed here. Children of a
span are sorted once by (end desc, start asc, id): the current point only moves backwards, so one cursor
per span finds each next candidate. An explicit stack replaces recursion: depth is unbounded.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from streamproc.analyze.schema import CriticalPath, CriticalPathShare
from streamproc.analyze.stats import pct
from streamproc.analyze.tree import TraceTree
from streamproc.model import Span, SpanKind, span_id_hex
from streamproc.units import ms

OperationKey = tuple[str, str]


class CriticalSection:
    """A stretch of the critical path. A plain class: compiled, it is built by a native constructor with
    its integers unboxed (a NamedTuple or a dataclass is built by a Python-level function), two a span."""

    __slots__ = ("end_ns", "span", "start_ns")

    def __init__(self, span: int, start_ns: int, end_ns: int) -> None:
        self.span = span  # index into the tree's spans
        self.start_ns = start_ns
        self.end_ns = end_ns

    def __repr__(self) -> str:
        return f"CriticalSection(span={self.span}, start_ns={self.start_ns}, end_ns={self.end_ns})"


#: Children of one span sorted by insertion up to this many (no key tuple per child), by key beyond.
_INSERTION_SORT_AT_MOST = 16


def critical_path(tree: TraceTree) -> list[CriticalSection]:
    """The critical path sections of every root's fragment, in time order within each root."""
    sections: list[CriticalSection] = []
    count = len(tree.spans)
    low, high = [0] * count, [0] * count  # each span's clamped interval, set parents first
    for root in tree.roots:
        sections.extend(_root_path(tree, root, low, high))
    return sections


def _clamped_children(tree: TraceTree, root: int, low: list[int], high: list[int]) -> dict[int, list[int]]:
    """Clamp the spans under `root` into `low` and `high`; the children kept per span, in walk order."""
    spans = tree.spans
    low[root], high[root] = spans[root].start_ns, spans[root].end_ns
    kept: dict[int, list[int]] = {}
    stack = [root]
    while stack:
        parent = stack.pop()
        floor, ceiling = low[parent], high[parent]
        producer = spans[parent].kind is SpanKind.PRODUCER
        chosen = []
        for child in tree.children[parent]:
            span = spans[child]
            if producer and span.kind is SpanKind.CONSUMER:
                continue
            start, end = span.start_ns, span.end_ns
            if end < floor or start > ceiling:
                continue
            # Comparisons, not max()/min(): this runs for every span of every trace.
            low[child] = start if start > floor else floor
            high[child] = end if end < ceiling else ceiling
            chosen.append(child)
            stack.append(child)
        if chosen:
            if len(chosen) > _INSERTION_SORT_AT_MOST:
                chosen.sort(key=lambda c: (-high[c], low[c], spans[c].span_id))
            elif len(chosen) > 1:
                _sort_few(chosen, low, high, spans)
            kept[parent] = chosen
    return kept


def _sort_few(children: list[int], low: list[int], high: list[int], spans: tuple[Span, ...]) -> None:
    """Sort a few children in walk order, as the key sort does: the latest (clamped) end first, then the
    earliest start, then the lowest span id. By insertion: stable, and it allocates nothing."""
    for i in range(1, len(children)):
        child = children[i]
        end, start = high[child], low[child]
        j = i - 1
        while j >= 0:
            other = children[j]
            other_end, other_start = high[other], low[other]
            if other_end > end or (
                other_end == end
                and (
                    other_start < start
                    or (other_start == start and spans[other].span_id < spans[child].span_id)
                )
            ):
                break
            children[j + 1] = other
            j -= 1
        children[j + 1] = child


def _root_path(tree: TraceTree, root: int, low: list[int], high: list[int]) -> list[CriticalSection]:
    kept = _clamped_children(tree, root, low, high)
    reversed_sections: list[CriticalSection] = []
    cursor = [0] * len(tree.spans)
    nodes, points = [root], [high[root]]  # the walk's stack: a span, and its current point
    while nodes:
        node, point = nodes[-1], points[-1]
        candidates = kept.get(node)
        position = cursor[node]
        if candidates is not None:
            while position < len(candidates) and high[candidates[position]] > point:
                position += 1
        if candidates is not None and position < len(candidates):
            child = candidates[position]
            cursor[node] = position + 1
            child_start, child_end = low[child], high[child]
            if point > child_end:
                reversed_sections.append(CriticalSection(node, child_end, point))
            points[-1] = child_start
            nodes.append(child)
            points.append(child_end)
        else:
            start = low[node]
            if point > start:
                reversed_sections.append(CriticalSection(node, start, point))
            nodes.pop()
            points.pop()
    reversed_sections.reverse()
    return reversed_sections


def critical_time_per_span(sections: list[CriticalSection]) -> dict[int, int]:
    """Time on the critical path per span index, in the order the spans first appear on the path."""
    per_span: dict[int, int] = {}
    for section in sections:
        per_span[section.span] = per_span.get(section.span, 0) + section.end_ns - section.start_ns
    return per_span


@dataclass(slots=True)
class PathStats:
    total_ns: int = 0
    trace_count: int = 0


@dataclass(order=True, slots=True)
class _Slowest:
    duration_ns: int
    trace_id_order: bytes  # inverted id: among equal durations the lower id ranks as slower
    entry: CriticalPath = field(compare=False)


class CriticalPathAnalyzer:
    """Time on the critical path per (service, operation), and the paths of the slowest traces."""

    def __init__(self, keep: int = 10) -> None:
        self.keep = keep
        self.total_ns = 0
        self.stats: dict[OperationKey, PathStats] = {}
        self._slowest: list[_Slowest] = []

    def observe(self, tree: TraceTree, per_span: dict[int, int], sections: list[CriticalSection]) -> None:
        """`per_span`: critical path time per span index, in path order (see `critical_time_per_span`),
        of the path's `sections`."""
        seen: set[OperationKey] = set()
        for index, critical_ns in per_span.items():
            span = tree.spans[index]
            key = (span.service, span.name)
            stats = self.stats.get(key)
            if stats is None:
                stats = self.stats[key] = PathStats()
            stats.total_ns += critical_ns
            if key not in seen:
                seen.add(key)
                stats.trace_count += 1
            self.total_ns += critical_ns
        self._remember(tree, per_span, sections)

    def _remember(self, tree: TraceTree, per_span: dict[int, int], sections: list[CriticalSection]) -> None:
        if self.keep <= 0:
            return
        duration = tree.end_ns - tree.start_ns
        if len(self._slowest) >= self.keep and duration < self._slowest[0].duration_ns:
            return  # most traces: decided before the inverted id is made
        order = bytes(255 - b for b in tree.trace_id)
        if len(self._slowest) >= self.keep and (duration, order) <= (
            self._slowest[0].duration_ns,
            self._slowest[0].trace_id_order,
        ):
            return
        item = _Slowest(duration, order, _path_entry(tree, per_span, sections))
        if len(self._slowest) < self.keep:
            heapq.heappush(self._slowest, item)
        else:
            heapq.heapreplace(self._slowest, item)

    def merge(self, other: CriticalPathAnalyzer) -> None:
        self.total_ns += other.total_ns
        for key, stats in other.stats.items():
            mine = self.stats.setdefault(key, PathStats())
            mine.total_ns += stats.total_ns
            mine.trace_count += stats.trace_count
        for item in other._slowest:
            if len(self._slowest) < self.keep:
                heapq.heappush(self._slowest, item)
            elif item > self._slowest[0]:
                heapq.heapreplace(self._slowest, item)

    def report_paths(self, *, top: int | None = None) -> list[CriticalPath]:
        return [item.entry for item in sorted(self._slowest, reverse=True)[:top]]

    def report_summary(self, *, top: int | None = None) -> list[CriticalPathShare]:
        ranked = sorted(self.stats.items(), key=lambda item: (-item[1].total_ns, item[0]))
        return [
            {
                "service": service,
                "operation": operation,
                "total_ms": ms(stats.total_ns),
                "share_pct": pct(stats.total_ns, self.total_ns),
                "trace_count": stats.trace_count,
            }
            for (service, operation), stats in ranked[:top]
        ]


def _path_entry(tree: TraceTree, per_span: dict[int, int], sections: list[CriticalSection]) -> CriticalPath:
    """A slowest trace's path, with what a waterfall needs: each span's start (ms after the trace's start),
    its parent (a position in this list; the spans on a path hang together from a root), its critical
    sections and how many spans below it are off the path."""
    spans, base = tree.spans, tree.start_ns
    position = {index: place for place, index in enumerate(per_span)}
    parents: dict[int, int] = {}
    off_path = dict.fromkeys(per_span, 0)
    for index in per_span:
        for child in tree.children[index]:
            if child in position:
                parents[child] = position[index]
            else:
                off_path[index] += _subtree_size(tree, child)
    timed: dict[int, list[list[float]]] = {}
    for section in sections:
        timed.setdefault(section.span, []).append([ms(section.start_ns - base), ms(section.end_ns - base)])
    return {
        "trace_id": tree.trace_id.hex(),
        "total_duration_ms": ms(tree.duration_ns),
        "critical_path_duration_ms": ms(sum(per_span.values())),
        "root_count": len(tree.roots),
        "span_count": len(spans),
        "spans": [
            {
                "span_id": span_id_hex(spans[index].span_id),
                "service": spans[index].service,
                "operation": spans[index].name,
                "duration_ms": ms(spans[index].end_ns - spans[index].start_ns),
                "critical_ms": ms(critical_ns),
                "start_ms": ms(spans[index].start_ns - base),
                "parent": parents.get(index),
                "error": spans[index].is_error,
                "sections": timed.get(index, []),
                "off_path_spans": off_path[index],
            }
            for index, critical_ns in per_span.items()
        ],
    }


def _subtree_size(tree: TraceTree, top: int) -> int:
    count, stack = 0, [top]
    while stack:
        count += 1
        stack.extend(tree.children[stack.pop()])
    return count
