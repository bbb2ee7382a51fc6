"""Small numeric helpers shared by analyzers and reports."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

PPB = 1_000_000_000  # shares are summed as integer parts per billion, so sums do not depend on order


def pct(part: float, whole: float) -> float:
    """`part` as a percentage of `whole`, two decimals; 0 when `whole` is 0."""
    return round(part * 100 / whole, 2) if whole else 0.0


def percentiles(values: Sequence[int], quantiles: Sequence[int]) -> list[float]:
    """Whole percentiles (1 to 99) by linear interpolation between closest ranks: numpy's default, which is
    the stdlib's 'inclusive' method."""
    if not values:
        return [0.0 for _ in quantiles]
    if len(values) == 1:
        return [float(values[0]) for _ in quantiles]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return [float(cuts[q - 1]) for q in quantiles]
