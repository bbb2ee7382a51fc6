"""The report's latency histogram (`summary.duration_histogram`) on its fixed logarithmic grid."""

from __future__ import annotations

import random

import pytest

from streamproc.analyze.histogram import (
    REPORT_PER_DECADE,
    count_durations,
    grid_index,
    quantile_ms,
    upper_bound_ms,
)
from streamproc.analyze.sketch import EXACT_LIMIT, SketchDurations
from streamproc.analyze.summary import ExactDurations
from tests.builders import span, suite_of, trace, trace_id

MS = 1_000_000


@pytest.mark.parametrize(
    ("duration_ns", "le_ms"),
    [(100 * MS, 100.0), (100 * MS + 1, 125.9), (1 * MS, 1.0), (999, 0.001), (0, 0.001), (500 * MS, 501.2)],
)
def test_a_duration_falls_in_the_bin_its_upper_bound_names(duration_ns, le_ms):
    index = grid_index(duration_ns, REPORT_PER_DECADE)
    assert upper_bound_ms(index, REPORT_PER_DECADE) == pytest.approx(le_ms, rel=1e-3)
    if duration_ns > 1000:
        assert upper_bound_ms(index - 1, REPORT_PER_DECADE) * MS < duration_ns


def test_summary_histogram_counts_every_trace_in_its_bin():
    durations = [5, 5, 50, 120, 480, 520, 3000]
    traces = [trace(span(1, 0, 0, d, trace=trace_id(n))) for n, d in enumerate(durations)]
    bins = suite_of(*traces).report()["summary"]["duration_histogram"]
    assert sum(b["count"] for b in bins) == len(durations)
    assert [b["le_ms"] for b in bins] == sorted(b["le_ms"] for b in bins)
    by_bound = {b["le_ms"]: b["count"] for b in bins}
    assert by_bound[5.012] == 2  # 5 ms: (3.981, 5.012]
    assert by_bound[501.2] == 1 and by_bound[631.0] == 1  # either side of the 500 ms alert line


def test_live_sketch_histogram_matches_the_exact_one_beyond_the_exact_limit():
    """Past EXACT_LIMIT the live store answers from DDSketch bins (0.5 %): durations away from the grid's
    bounds land in the same bins as the batch path's exact count."""
    rng = random.Random(3)
    values = [
        round(upper_bound_ms(rng.randrange(-5, 40), REPORT_PER_DECADE) * MS * 0.88) for _ in range(5000)
    ]
    sketch, exact = SketchDurations(), ExactDurations()
    for value in values:
        sketch.add(value)
        exact.add(value)
    assert sketch.exact is None and len(values) > EXACT_LIMIT
    assert sketch.histogram() == exact.histogram()
    sketch.add(0)
    assert sum(sketch.histogram().values()) == len(values) + 1


def test_quantile_is_interpolated_inside_its_bin_and_zero_when_empty():
    counts = count_durations((ms * MS for ms in range(1, 101)), 40)
    assert quantile_ms(counts, 0.5, 40) == pytest.approx(50.5, rel=0.03)
    assert quantile_ms({}, 0.95, 40) == 0.0
