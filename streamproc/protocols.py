"""Extension points: small protocols that analyzers implement (structural typing, no base classes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from streamproc.analyze.tree import TraceTree


class Analyzer(Protocol):
    """Feeds on completed traces one at a time and reports on all of them.

    The batch path calls `observe` for every trace of the input; the live path calls it for each trace the
    assembler completes. `merge` folds another analyzer's state in, so that windows can be kept as
    time buckets and combined on demand.
    """

    def observe(self, tree: TraceTree) -> None: ...

    def merge(self, other: Any) -> None: ...


class DurationStore(Protocol):
    """Where the summary keeps trace durations for percentiles: exact (batch) or a sketch (live windows)."""

    def add(self, duration_ns: int) -> None: ...

    def merge(self, other: Any) -> None: ...

    def quantiles(self, percents: tuple[int, ...]) -> list[float]: ...
