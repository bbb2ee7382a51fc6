"""Small numeric helpers shared by analyzers and reports."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

NS_PER_MS = 1_000_000
PPB = 1_000_000_000  # shares are summed as integer parts per billion, so sums do not depend on order


def ms(ns: float) -> float:
    """Nanoseconds to milliseconds, rounded to the microsecond for stable output."""
    return round(ns / NS_PER_MS, 3)


def pct(part: float, whole: float) -> float:
    """`part` as a percentage of `whole`, two decimals; 0 when `whole` is 0."""
    return round(part * 100 / whole, 2) if whole else 0.0


def percentiles(values: Sequence[int], quantiles: Sequence[float]) -> list[float]:
    """Percentiles by linear interpolation between closest ranks (numpy's default; 'inclusive' here)."""
    if not values:
        return [0.0 for _ in quantiles]
    if len(values) == 1:
        return [float(values[0]) for _ in quantiles]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    ordered = sorted(values)
    result = []
    for q in quantiles:
        if q <= 0:
            result.append(float(ordered[0]))
        elif q >= 100:
            result.append(float(ordered[-1]))
        elif float(q).is_integer():
            result.append(float(cuts[int(q) - 1]))
        else:
            position = (len(ordered) - 1) * q / 100
            low = int(position)
            result.append(ordered[low] + (ordered[low + 1] - ordered[low]) * (position - low))
    return result
