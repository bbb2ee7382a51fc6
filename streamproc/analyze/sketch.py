"""A bounded duration store for live windows: exact while small, DDSketch quantiles beyond.

While a store (a time bucket, or the buckets of a window merged) holds at most `EXACT_LIMIT` durations it
keeps them all and answers percentiles exactly as the batch report computes them (linear interpolation),
so a replayed file's live report matches its batch report. Beyond that it answers from a DDSketch
(DataDog's implementation of the DDSketch paper): logarithmic buckets, any quantile within
`RELATIVE_ACCURACY` of the value at that rank whatever the number of traces, and exact merges, so time
buckets combine into any window. The sketch is kept from the first duration on, so the switch costs nothing.
"""

from __future__ import annotations

from ddsketch.ddsketch import BaseDDSketch
from ddsketch.mapping import LogarithmicMapping
from ddsketch.store import DenseStore

from streamproc.analyze.histogram import REPORT_PER_DECADE, count_durations, grid_index
from streamproc.analyze.stats import percentiles

RELATIVE_ACCURACY = 0.005  # 0.5 %: half the 1 % the live report promises
EXACT_LIMIT = 1024  # durations kept exactly per store: a few kB per bucket at most


class SketchDurations:
    def __init__(self) -> None:
        # DDSketch's own parts, kept by name: the histogram reads the store's bins through the mapping.
        self.mapping = LogarithmicMapping(RELATIVE_ACCURACY)
        self.store = DenseStore()
        self.sketch = BaseDDSketch(self.mapping, self.store, DenseStore(), 0.0)
        self.exact: list[int] | None = []

    def add(self, duration_ns: int) -> None:
        self.sketch.add(duration_ns)
        if self.exact is not None:
            self.exact.append(duration_ns)
            if len(self.exact) > EXACT_LIMIT:
                self.exact = None

    def merge(self, other: SketchDurations) -> None:
        self.sketch.merge(other.sketch)
        if (
            self.exact is not None
            and other.exact is not None
            and len(self.exact) + len(other.exact) <= EXACT_LIMIT
        ):
            self.exact.extend(other.exact)
        else:
            self.exact = None

    def quantiles(self, percents: tuple[int, ...]) -> list[float]:
        if self.exact is not None:
            return percentiles(self.exact, percents)
        return [float(self.sketch.get_quantile_value(p / 100) or 0.0) for p in percents]

    def histogram(self) -> dict[int, int]:
        """Counts on the report's grid: exact while the durations are kept, else each sketch bin's value
        (within 0.5 %) counted in the grid bin it falls in; zero durations fall in the lowest bin."""
        if self.exact is not None:
            return count_durations(self.exact)
        counts: dict[int, int] = {}
        store = self.store
        for position, count in enumerate(store.bins):
            if count:
                index = grid_index(round(self.mapping.value(position + store.offset)), REPORT_PER_DECADE)
                counts[index] = counts.get(index, 0) + int(count)
        zeros = int(self.sketch.count - store.count)
        if zeros:
            lowest = grid_index(0, REPORT_PER_DECADE)
            counts[lowest] = counts.get(lowest, 0) + zeros
        return counts
