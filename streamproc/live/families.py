"""Metric families with bounded label sets, rendered as prometheus_client `Metric`s at scrape time.

State is plain dicts of counts, updated by the caller under its own lock. Every family has a cardinality
limit: past it, new label sets fold into one series labelled only `otel_metric_overflow="true"` (as the OTel
SDKs do), and `overflowed` counts the folded updates. Histogram buckets carry the latest trace id as an
exemplar (shown when scraped as OpenMetrics). Counters and histograms stay correct when summed over
instances.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Exemplar

OVERFLOW_LABEL = "otel_metric_overflow"

Labels = tuple[str, ...]
T = TypeVar("T")


@dataclass(slots=True)
class _Histogram:
    counts: list[int]
    # Per bucket, the latest trace id and its observed value (two lists: no tuple per observation).
    exemplar_ids: list[str | None]
    exemplar_values: list[float]
    total: float = 0.0

    def observe(self, bounds: tuple[float, ...], value: float, trace_id: str | None) -> None:
        index = bucket_index(bounds, value)
        self.counts[index] += 1
        self.total += value
        if trace_id is not None:
            self.exemplar_ids[index] = trace_id
            self.exemplar_values[index] = value

    def exemplars(self) -> list[tuple[str, float] | None]:
        """Per bucket, its exemplar (trace id, value), if one was observed."""
        return [
            None if trace_id is None else (trace_id, value)
            for trace_id, value in zip(self.exemplar_ids, self.exemplar_values, strict=True)
        ]


def bucket_index(bounds: tuple[float, ...], value: float) -> int:
    """`bisect.bisect_left(bounds, value)`: the bucket whose upper bound is the first at or above `value`.
    Written out: compiled, it compares unboxed floats (the bisect module takes a boxed value per call)."""
    low, high = 0, len(bounds)
    while low < high:
        middle = (low + high) >> 1
        if bounds[middle] < value:
            low = middle + 1
        else:
            high = middle
    return low


class _Family(Generic[T]):
    """One metric family with bounded label sets: the shared part of counters and histograms."""

    kind = ""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...], limit: int) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.limit = limit
        self.series: dict[Labels, T] = {}
        self.overflow: T | None = None
        self.overflowed = 0

    def _new(self) -> T:
        raise NotImplementedError

    def _slot(self, labels: Labels) -> T | None:
        """The series for `labels`, created while under the limit; None means the overflow series."""
        found = self.series.get(labels)
        if found is not None:
            return found
        if len(self.series) < self.limit:
            found = self.series[labels] = self._new()
            return found
        self.overflowed += 1
        return None

    def labelled(self) -> list[tuple[dict[str, str], T]]:
        """Every series as (labels, value), the overflow series last."""
        items = [
            (dict(zip(self.labelnames, labels, strict=True)), value) for labels, value in self.series.items()
        ]
        if self.overflow is not None:
            items.append(({OVERFLOW_LABEL: "true"}, self.overflow))
        return items


class CounterFamily(_Family[list[float]]):
    kind = "counter"

    def _new(self) -> list[float]:
        return [0.0]

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        cell = self._slot(labels)
        if cell is None:
            cell = self.overflow = self.overflow or [0.0]
        cell[0] += amount

    def render(self) -> Metric:
        base = self.name.removesuffix("_total")
        metric = Metric(base, self.documentation, "counter")
        for labels, cell in self.labelled():
            metric.add_sample(self.name, labels, cell[0])
        return metric


class HistogramFamily(_Family[_Histogram]):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: tuple[str, ...],
        limit: int,
        buckets: tuple[float, ...],
    ) -> None:
        super().__init__(name, documentation, labelnames, limit)
        self.buckets = buckets
        self._bounds = [*(str(float(b)) for b in buckets), "+Inf"]

    def _new(self) -> _Histogram:
        size = len(self.buckets) + 1
        return _Histogram([0] * size, [None] * size, [0.0] * size)

    def observe(self, labels: Labels, value: float, trace_id: str | None = None) -> None:
        histogram = self._slot(labels)
        if histogram is None:
            histogram = self.overflow = self.overflow or self._new()
        histogram.observe(self.buckets, value, trace_id)

    def exemplar_trace_ids(self) -> Iterator[str]:
        """The trace ids the buckets' exemplars name now."""
        for _labels, histogram in self.labelled():
            for trace_id in histogram.exemplar_ids:
                if trace_id is not None:
                    yield trace_id

    def render(self, shows: Callable[[str], bool] | None = None) -> Metric:
        """The family's samples; a bucket's exemplar only where `shows(trace_id)` (None: always)."""
        metric = Metric(self.name, self.documentation, "histogram")
        for labels, histogram in self.labelled():
            cumulative = 0
            for bound, count, exemplar in zip(
                self._bounds, histogram.counts, histogram.exemplars(), strict=True
            ):
                cumulative += count
                sample_exemplar = (
                    Exemplar({"trace_id": exemplar[0]}, exemplar[1])
                    if exemplar is not None and (shows is None or shows(exemplar[0]))
                    else None
                )
                metric.add_sample(
                    f"{self.name}_bucket", {**labels, "le": bound}, cumulative, exemplar=sample_exemplar
                )
            metric.add_sample(f"{self.name}_count", labels, cumulative)
            metric.add_sample(f"{self.name}_sum", labels, histogram.total)
        return metric


class HistogramCount:
    """A counter equal, series by series, to a histogram's number of observations: `trace_total` beside
    `trace_duration_ms`, spanmetrics' calls beside its durations, the service graph's requests beside its
    client durations. Rendered from the histogram at scrape time, so the hot path updates one family, not
    two; the overflow series and overflow count are the histogram's, as they would be for a twin family."""

    kind = "counter"

    def __init__(self, name: str, documentation: str, histogram: HistogramFamily) -> None:
        self.name = name
        self.documentation = documentation
        self.histogram = histogram

    @property
    def overflowed(self) -> int:
        return self.histogram.overflowed

    def render(self) -> Metric:
        metric = Metric(self.name.removesuffix("_total"), self.documentation, "counter")
        for labels, histogram in self.histogram.labelled():
            metric.add_sample(self.name, labels, float(sum(histogram.counts)))
        return metric
