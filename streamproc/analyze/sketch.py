"""A bounded duration store for live windows: DDSketch quantiles with a relative error guarantee.

ddsketch (DataDog's implementation of the DDSketch paper) keeps logarithmic buckets: any quantile it
returns is within `RELATIVE_ACCURACY` of the value at that rank, whatever the number of traces, and
sketches merge exactly, so time buckets combine into any window.
"""

from __future__ import annotations

from ddsketch import DDSketch

RELATIVE_ACCURACY = 0.005  # 0.5 %: half the 1 % the live report promises


class SketchDurations:
    def __init__(self) -> None:
        self.sketch = DDSketch(relative_accuracy=RELATIVE_ACCURACY)

    def add(self, duration_ns: int) -> None:
        self.sketch.add(duration_ns)

    def merge(self, other: SketchDurations) -> None:
        self.sketch.merge(other.sketch)

    def quantiles(self, percents: tuple[int, ...]) -> list[float]:
        return [float(self.sketch.get_quantile_value(p / 100) or 0.0) for p in percents]
