"""How a batch is analyzed: in this process, or split across worker processes (`pool`).

Two strategies use workers. `analyze_trees` gives each worker a contiguous run of loaded traces;
`decode_and_analyze_jaeger` gives each a contiguous run of a Jaeger export's trace objects to decode, group
and analyze, so that decoding runs in parallel too. Each worker sends back its own `AnalysisSuite`; the
parent merges them in order. The analyzers are order-independent by design (examples are the lowest trace
ids, the slowest paths are totally ordered, every report list is sorted on full keys), so the merged report
equals the serial one byte for byte; tests hold that. Skipped spans and duplicates come back in file order,
for the warnings that name the first of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from streamproc.analyze import AnalysisOptions, AnalysisSuite, TraceTree
from streamproc.analyze.filters import TraceFilter, filter_trees
from streamproc.batch.inputs import Contents, InputAccount, SourceReport, group_decoded
from streamproc.batch.pool import (
    PoolError,
    Progress,
    Task,
    bounds,
    can_fork,
    no_progress,
    reporting,
    run_in_workers,
    usable_cpus,
)
from streamproc.decode import Format
from streamproc.decode.jaeger import decode_jaeger_texts, split_jaeger_document
from streamproc.errors import WorkerError

#: Below this many traces a worker, forking costs more than it saves (it is about 50 ms a worker).
MIN_TRACES_PER_WORKER = 5_000


def worker_count(
    jobs: int | None, traces: int, *, cpus: int | None = None, forkable: bool | None = None
) -> int:
    """Processes to analyze `traces` in: `jobs` if given, else one per CPU where each gets enough work;
    one where forking is unsafe. `cpus` and `forkable` default to what this process may use."""
    if not (can_fork() if forkable is None else forkable) or traces < 2:
        return 1
    if jobs is not None:
        return max(1, min(jobs, traces))
    return max(1, min(usable_cpus() if cpus is None else cpus, traces // MIN_TRACES_PER_WORKER))


def analyze_trees(
    trees: list[TraceTree],
    options: AnalysisOptions,
    progress: Progress = no_progress,
    *,
    jobs: int | None = 1,
) -> AnalysisSuite:
    """The suite over `trees`, in `worker_count(jobs, ...)` processes (this one, if one)."""
    workers = worker_count(jobs, len(trees))
    if workers <= 1:
        return _analyze_here(trees, options, progress)
    cuts = bounds(len(trees), workers)

    def task(index: int, done: Callable[[int], None]) -> AnalysisSuite:
        return _analyze_here(trees[cuts[index] : cuts[index + 1]], options, reporting(done))

    return _merged(_in_workers(task, workers, progress, "analyzing", len(trees)))


def decode_and_analyze_jaeger(
    source: str,
    data: Contents,
    rules: TraceFilter,
    options: AnalysisOptions,
    progress: Progress,
    *,
    jobs: int | None,
) -> tuple[InputAccount, AnalysisSuite] | None:
    """One Jaeger `{"data": [...]}` input decoded and analyzed in workers, each a contiguous run of its trace
    objects; None where that does not apply (not such a document, one worker, or `--time-range`, which
    needs the newest trace of the whole input first), and the caller loads the input as usual.

    Where one trace id turns up in two workers' runs (an export that split a trace across trace objects),
    the workers' results are set aside and the document is decoded and grouped here, then analyzed as
    usual: the report is the same either way.
    """
    if rules.time_range_ns is not None or worker_count(jobs, 2**62) <= 1:
        return None
    traces = split_jaeger_document(data)
    if traces is None:
        return None
    workers = worker_count(jobs, len(traces))
    if workers > 1:
        cuts = bounds(len(traces), workers)

        def task(index: int, done: Callable[[int], None]) -> _ChunkFindings:
            return _decode_and_analyze(traces[cuts[index] : cuts[index + 1]], rules, options, done)

        chunks: list[_ChunkFindings] = _in_workers(
            task, workers, progress, "decoding and analyzing", 2 * len(traces)
        )
        if _disjoint(chunk.trace_ids for chunk in chunks):
            return _combined(source, chunks)
    loaded = group_decoded([(source, Format.JAEGER, decode_jaeger_texts(traces))], progress)
    suite = analyze_trees(filter_trees(loaded.trees, rules), options, progress, jobs=jobs)
    return loaded.account, suite


@dataclass(slots=True)
class _ChunkFindings:
    """What a worker found in its run of trace objects: the input's account, the suite, the trace ids."""

    account: InputAccount
    suite: AnalysisSuite
    trace_ids: set[bytes]


def _analyze_here(trees: list[TraceTree], options: AnalysisOptions, progress: Progress) -> AnalysisSuite:
    """The suite over `trees`, in this process, one trace after another."""
    suite = AnalysisSuite(options)
    for tree in progress(trees, "analyzing", len(trees)):
        suite.observe_tree(tree)
    return suite


def _decode_and_analyze(
    traces: Sequence[msgspec.Raw], rules: TraceFilter, options: AnalysisOptions, done: Callable[[int], None]
) -> _ChunkFindings:
    loaded = group_decoded([("", Format.JAEGER, decode_jaeger_texts(traces))])
    done(len(traces))  # decoding is the first half of a worker's bar, analysis the second
    analysis = reporting(done, start=len(traces), width=len(traces))
    suite = _analyze_here(filter_trees(loaded.trees, rules), options, analysis)
    return _ChunkFindings(loaded.account, suite, {tree.trace_id for tree in loaded.trees})


def _disjoint(id_sets: Iterable[set[bytes]]) -> bool:
    seen: set[bytes] = set()
    for ids in id_sets:
        if not seen.isdisjoint(ids):
            return False
        seen |= ids
    return True


def _combined(source: str, chunks: list[_ChunkFindings]) -> tuple[InputAccount, AnalysisSuite]:
    """The workers' findings as one input's: skips and duplicates in file order, suites merged."""
    parts = [chunk.account for chunk in chunks]
    span_count = sum(part.span_count for part in parts)
    skipped = [span for part in parts for source_report in part.sources for span in source_report.skipped]
    report = SourceReport(source, Format.JAEGER, span_count, skipped)
    duplicates = [span for part in parts for span in part.duplicates]
    account = InputAccount([report], duplicates, span_count, sum(part.trace_count for part in parts))
    return account, _merged([chunk.suite for chunk in chunks])


def _merged(suites: list[AnalysisSuite]) -> AnalysisSuite:
    """The suites merged into the first, in order."""
    for suite in suites[1:]:
        suites[0].merge(suite)
    return suites[0]


def _in_workers(task: Task, workers: int, progress: Progress, label: str, total: int) -> list[Any]:
    """The pool's results, a worker's failure raised as the WorkerError the user reads."""
    try:
        return run_in_workers(task, workers, progress, label, total)
    except PoolError as exc:
        raise WorkerError(f"analysis {exc} (--jobs 1 analyzes in one process)") from None
