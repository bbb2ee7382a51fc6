"""A trace indexed for analysis: children per span, roots, trace bounds and each span's self time.

Built once per trace and shared by every analyzer. Spans are addressed by their position in `spans`.
Nothing here recurses, so a chain of 100,000 spans is as safe as a flat trace.

Malformed structure (DESIGN section 5): a parent chain that loops (A -> B -> A) is cut so that the trace
is still a forest: in each loop the earliest-starting span (ties: the lowest span id) loses its parent and
becomes a root. The choice depends on the spans only, not on their order, so the batch and the live path
cut alike. A span that is its own parent is a root too. Such a tree is marked `malformed`.
"""

from __future__ import annotations

from typing import NamedTuple

from streamproc.model import Span, Trace, new_tuple


class TraceTree(NamedTuple):
    trace_id: bytes
    spans: tuple[Span, ...]
    children: tuple[tuple[int, ...], ...]
    roots: tuple[int, ...]  # spans whose parent is not in the trace, earliest first
    start_ns: int
    end_ns: int
    error_span_count: int
    partial: bool = False
    malformed: bool = False  # a parent loop was cut (or a span named itself as its parent)

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def root(self) -> Span:
        """The trace's root: the earliest span without a parent in the trace."""
        return self.spans[self.roots[0]]

    @property
    def is_error(self) -> bool:
        return self.error_span_count > 0


def self_times(tree: TraceTree) -> list[int]:
    """Each span's duration minus the union of its children's intervals clipped to it (floor 0). A
    function, not a method of the NamedTuple: compiled, a direct call rather than Python's method lookup."""
    spans = tree.spans
    children = tree.children
    result = []
    for index in range(len(spans)):
        span = spans[index]
        kids = children[index]
        start, end = span.start_ns, span.end_ns
        if not kids:
            result.append(end - start)
            continue
        if len(kids) == 1:  # the common case: the union is the one child's clipped interval
            kid = spans[kids[0]]
            low = kid.start_ns if kid.start_ns > start else start
            high = kid.end_ns if kid.end_ns < end else end
            covered = high - low if high > low else 0
            result.append(end - start - covered)
            continue
        intervals = []
        for k in kids:
            kid = spans[k]
            if kid.end_ns > start and kid.start_ns < end:
                intervals.append(
                    (
                        kid.start_ns if kid.start_ns > start else start,
                        kid.end_ns if kid.end_ns < end else end,
                    )
                )
        intervals.sort()
        covered = 0
        run_start, run_end = start, start
        for lo, hi in intervals:
            if lo > run_end:
                covered += run_end - run_start
                run_start, run_end = lo, hi
            elif hi > run_end:
                run_end = hi
        covered += run_end - run_start
        result.append(max(0, (end - start) - covered))
    return result


def build_tree(trace: Trace) -> TraceTree:
    """Index a trace. Spans whose parent is missing (orphans) are roots, as are spans without a parent;
    parent loops are cut (see the module's docstring)."""
    spans = trace.spans
    if not spans:
        raise ValueError("a trace needs at least one span")
    position = {span.span_id: index for index, span in enumerate(spans)}
    children: list[list[int]] = [[] for _ in spans]
    roots = []
    errors = 0
    malformed = False
    start, end = spans[0].start_ns, spans[0].end_ns
    for index, span in enumerate(spans):
        parent = position.get(span.parent_span_id) if span.parent_span_id else None
        if parent is None:
            roots.append(index)
        elif parent == index:
            roots.append(index)
            malformed = True
        else:
            children[parent].append(index)
        if span.status == 2:  # StatusCode.ERROR; the int compare keeps this loop cheap
            errors += 1
        # Comparisons, not min()/max(): a call per span costs more than the rest of this loop's line.
        if span.start_ns < start:  # noqa: PLR1730
            start = span.start_ns
        if span.end_ns > end:  # noqa: PLR1730
            end = span.end_ns
    if _reachable(roots, children) < len(spans):
        roots += _cut_loops(spans, position, children)
        malformed = True
    if len(roots) > 1:
        roots.sort(key=lambda i: (spans[i].start_ns, spans[i].parent_span_id != b"", spans[i].span_id))
    fields = (
        trace.trace_id,
        spans,
        tuple([tuple(kids) for kids in children]),
        tuple(roots),
        start,
        end,
        errors,
        trace.partial,
        malformed,
    )
    return new_tuple(TraceTree, fields)  # every field, in order


def _reachable(roots: list[int], children: list[list[int]]) -> int:
    """How many spans hang from the roots: all of them unless a parent chain loops."""
    count = len(roots)
    stack = list(roots)
    while stack:
        kids = children[stack.pop()]
        if kids:
            count += len(kids)
            stack.extend(kids)
    return count


def _cut_loops(spans: tuple[Span, ...], position: dict[bytes, int], children: list[list[int]]) -> list[int]:
    """Cut every parent loop at its earliest-starting span (ties: the lowest id); those spans, now roots.
    `children` is updated in place. Runs only for a trace that has a loop."""
    parent_of = [position.get(span.parent_span_id) if span.parent_span_id else None for span in spans]
    state = [0] * len(spans)  # 0 not seen, 1 on the walk in progress, 2 done
    cuts = []
    for first in range(len(spans)):
        walk = []
        node = first if state[first] == 0 else None
        while node is not None and state[node] == 0:
            state[node] = 1
            walk.append(node)
            node = parent_of[node] if parent_of[node] != node else None
        if node is not None and state[node] == 1:
            loop = walk[walk.index(node) :]
            cut = min(loop, key=lambda i: (spans[i].start_ns, spans[i].span_id))
            children[parent_of[cut]].remove(cut)  # type: ignore[index]  # in a loop, every span has a parent
            cuts.append(cut)
        for node in walk:
            state[node] = 2
    return cuts
