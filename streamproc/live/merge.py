"""Merging what several processes counted (`live.workers`): metric families summed sample by sample,
pipeline counts summed, and what a dead worker leaves counted."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from prometheus_client.metrics_core import Metric

from streamproc.live.assembler import AssemblerLimits, AssemblerState
from streamproc.live.pipeline import WORKER_LOST, PipelineStats
from streamproc.live.retained import RetainedState


def merge_families(groups: list[list[Metric]]) -> list[Metric]:
    """Families of the same names from several processes, summed sample by sample. Samples stay grouped
    by label set (a histogram's buckets, count and sum together), in the order first seen; a bucket keeps
    one exemplar."""
    merged: dict[str, Metric] = {}
    points: dict[str, dict[tuple[tuple[str, str], ...], dict[tuple[Any, ...], list[Any]]]] = {}
    for families in groups:
        for family in families:
            if family.name not in merged:
                merged[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
                points[family.name] = {}
            family_points = points[family.name]
            for sample in family.samples:
                point = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
                cells = family_points.setdefault(point, {})
                key = (sample.name, tuple(sorted(sample.labels.items())))
                cell = cells.get(key)
                if cell is None:
                    cells[key] = [sample.name, sample.labels, sample.value, sample.exemplar]
                else:
                    cell[2] += sample.value
                    cell[3] = sample.exemplar or cell[3]
    for name, metric in merged.items():
        for cells in points[name].values():
            for sample_name, labels, value, exemplar in cells.values():
                metric.add_sample(sample_name, labels, value, exemplar=exemplar)
    return list(merged.values())


def merge_stats(parts: list[PipelineStats], *, intake: PipelineStats) -> PipelineStats:
    """The workers' counts summed, with what the receiving process counted itself (refusals, undecodable
    requests, authentication failures)."""
    total: dict[str, Counter[Any]] = {
        name: Counter() for name in ("received", "dropped", "refused", "undecodable", "auth", "completed")
    }
    numbers = Counter[str]()
    for part in parts:
        total["received"].update(part.received)
        total["dropped"].update(part.dropped)
        total["refused"].update(part.refused)
        total["undecodable"].update(part.undecodable_requests)
        total["auth"].update(part.auth_failures)
        total["completed"].update(part.assembler.completed)
        numbers.update(
            traces=part.traces_analyzed,
            malformed=part.malformed_traces,
            late=part.assembler.late_spans,
            buffered_traces=part.assembler.buffered_traces,
            buffered_spans=part.assembler.buffered_spans,
            limit_traces=part.assembler.limits.max_traces,
            limit_spans=part.assembler.limits.max_buffered_spans,
        )
    total["refused"].update(intake.refused)
    total["undecodable"].update(intake.undecodable_requests)
    total["auth"].update(intake.auth_failures)
    limits = parts[0].assembler.limits if parts else AssemblerLimits()
    return PipelineStats(
        spans_received=sum(total["received"].values()),
        received=dict(total["received"]),
        dropped=dict(total["dropped"]),
        refused=dict(total["refused"]),
        undecodable_requests=dict(total["undecodable"]),
        auth_failures=dict(total["auth"]),
        traces_analyzed=numbers["traces"],
        malformed_traces=numbers["malformed"],
        assembler=AssemblerState(
            dict(total["completed"]),
            numbers["late"],
            numbers["buffered_traces"],
            numbers["buffered_spans"],
            dataclasses.replace(
                limits, max_traces=numbers["limit_traces"], max_buffered_spans=numbers["limit_spans"]
            ),
        ),
    )


def retired(stats: PipelineStats | None, unconfirmed: dict[str, int], lost: int) -> PipelineStats:
    """What a dead worker leaves counted: its last counts, the spans it had not confirmed as received, and
    everything it held or had not confirmed as dropped (worker_lost); nothing buffered any more."""
    received = Counter(stats.received if stats is not None else {})
    received.update(unconfirmed)
    dropped = Counter(stats.dropped if stats is not None else {})
    dropped[WORKER_LOST] += lost
    assembler = stats.assembler if stats is not None else AssemblerState({}, 0, 0, 0, AssemblerLimits())
    return PipelineStats(
        spans_received=sum(received.values()),
        received=dict(received),
        dropped=dict(dropped),
        refused={},
        undecodable_requests={},
        auth_failures={},
        traces_analyzed=stats.traces_analyzed if stats is not None else 0,
        malformed_traces=stats.malformed_traces if stats is not None else 0,
        assembler=AssemblerState(
            dict(assembler.completed),
            assembler.late_spans,
            0,
            0,
            dataclasses.replace(assembler.limits, max_traces=0, max_buffered_spans=0),
        ),
    )


def sum_retained(states: list[RetainedState]) -> RetainedState:
    evicted: Counter[str] = Counter()
    for state in states:
        evicted.update(state.evicted)
    return RetainedState(
        sum(s.traces for s in states),
        sum(s.spans for s in states),
        sum(s.limit_spans for s in states),
        dict(evicted),
        sum(s.too_large for s in states),
    )
