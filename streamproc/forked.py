"""Batch work split across forked worker processes: the analysis, and for a Jaeger export the decoding too.

Each worker takes a contiguous run of the input (trees to analyze, or trace objects to decode, group and
analyze) and sends back its own `AnalysisSuite`, pickled; the parent merges them in order. The analyzers are
order-independent by design (examples are the lowest trace ids, the slowest paths are totally ordered, every
report list is sorted on full keys), so the merged report equals the serial one byte for byte; tests hold
that. Skipped spans and duplicates come back in file order, for the warnings that name the first of them.

Workers are forked, so they read what the parent holds without copying it through a pipe. Forking is only
safe in a process with one thread: `worker_count` answers 1 (work in this process) on platforms without
fork, outside Linux, and whenever another thread is running.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import mmap
import os
import pickle
import select
import signal
import struct
import sys
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import msgspec

from streamproc.analyze import AnalysisOptions, AnalysisSuite, TraceTree
from streamproc.batch import LoadedTraces, Progress, SourceReport, analyze, analyze_trees, assemble
from streamproc.decode import Format
from streamproc.decode.jaeger import decode_jaeger_texts, split_jaeger_document
from streamproc.errors import WorkerError
from streamproc.filters import TraceFilter

#: Below this many traces a worker, forking costs more than it saves (it is about 50 ms a worker).
MIN_TRACES_PER_WORKER = 5_000
#: Workers report their progress every this many traces.
_REPORT_EVERY = 256
_COUNTER = struct.Struct("q")


def can_fork() -> bool:
    return sys.platform == "linux" and hasattr(os, "fork") and threading.active_count() == 1


def worker_count(jobs: int | None, traces: int) -> int:
    """Processes to analyze `traces` in: `jobs` if given, else one per CPU where each gets enough work."""
    if not can_fork() or traces < 2:
        return 1
    if jobs is not None:
        return max(1, min(jobs, traces))
    return max(1, min(usable_cpus(), traces // MIN_TRACES_PER_WORKER))


def usable_cpus() -> int:
    """CPUs this process may run on (a container's cpuset, `taskset`), not all the machine has."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def analyze_in_workers(
    trees: list[TraceTree], options: AnalysisOptions, progress: Progress, *, jobs: int | None
) -> AnalysisSuite:
    """The suite over `trees`, from `worker_count(jobs, ...)` forked workers (or this process, if one)."""
    workers = worker_count(jobs, len(trees))
    if workers <= 1:
        return analyze_trees(trees, options, progress)
    bounds = _bounds(len(trees), workers)

    def task(index: int, done: Callable[[int], None]) -> AnalysisSuite:
        return analyze_trees(trees[bounds[index] : bounds[index + 1]], options, _reporting(done))

    return _merged(_in_workers(task, workers, progress, "analyzing", len(trees)))


def load_and_analyze_jaeger(
    source: str,
    data: bytes,
    rules: TraceFilter,
    options: AnalysisOptions,
    progress: Progress,
    *,
    jobs: int | None,
) -> tuple[LoadedTraces, AnalysisSuite] | None:
    """One Jaeger `{"data": [...]}` input decoded and analyzed in workers, each a contiguous run of its trace
    objects; None where that does not apply (not such a document, one worker, or `--time-range`, which
    needs the newest trace of the whole input first), and the caller loads the input as usual.

    Where one trace id turns up in two workers' runs (an export that split a trace across trace objects),
    the workers' results are set aside and the document is decoded and grouped here, then analyzed as
    usual: the report is the same either way.
    """
    if rules.time_range_ns is not None or worker_count(jobs, sys.maxsize) <= 1:
        return None
    traces = split_jaeger_document(data)
    if traces is None:
        return None
    workers = worker_count(jobs, len(traces))
    if workers > 1:
        bounds = _bounds(len(traces), workers)

        def task(index: int, done: Callable[[int], None]) -> _ChunkFindings:
            return _decode_and_analyze(traces[bounds[index] : bounds[index + 1]], rules, options, done)

        chunks: list[_ChunkFindings] = _in_workers(
            task, workers, progress, "decoding and analyzing", 2 * len(traces)
        )
        if _disjoint(chunk.trace_ids for chunk in chunks):
            return _combined(source, chunks)
    loaded = assemble([(source, Format.JAEGER, decode_jaeger_texts(traces))], progress)
    return loaded, analyze(loaded, rules, options, progress, functools.partial(analyze_in_workers, jobs=jobs))


@dataclass(slots=True)
class _ChunkFindings:
    """What a worker found in its run of trace objects: the input's account (without the trees, which stay
    in the worker), the suite, and the trace ids it saw."""

    loaded: LoadedTraces
    suite: AnalysisSuite
    trace_ids: set[bytes]


def _decode_and_analyze(
    traces: Sequence[msgspec.Raw], rules: TraceFilter, options: AnalysisOptions, done: Callable[[int], None]
) -> _ChunkFindings:
    loaded = assemble([("", Format.JAEGER, decode_jaeger_texts(traces))])
    done(len(traces))  # decoding is the first half of a worker's bar, analysis the second
    suite = analyze(loaded, rules, options, _reporting(done, start=len(traces), width=len(traces)))
    trace_ids = {tree.trace_id for tree in loaded.trees}
    loaded.trees = []  # the trees stay here: the parent needs the account, not the traces
    return _ChunkFindings(loaded, suite, trace_ids)


def _disjoint(id_sets: Iterable[set[bytes]]) -> bool:
    seen: set[bytes] = set()
    for ids in id_sets:
        if not seen.isdisjoint(ids):
            return False
        seen |= ids
    return True


def _combined(source: str, chunks: list[_ChunkFindings]) -> tuple[LoadedTraces, AnalysisSuite]:
    """The workers' findings as one input's: skips and duplicates in file order, suites merged."""
    parts = [chunk.loaded for chunk in chunks]
    span_count = sum(part.span_count for part in parts)
    skipped = [span for part in parts for source_report in part.sources for span in source_report.skipped]
    report = SourceReport(source, Format.JAEGER, span_count, skipped)
    duplicates = [span for part in parts for span in part.duplicates]
    return LoadedTraces([], [report], duplicates, span_count), _merged([chunk.suite for chunk in chunks])


def _merged(suites: list[AnalysisSuite]) -> AnalysisSuite:
    """The suites merged into the first, in order."""
    for suite in suites[1:]:
        suites[0].merge(suite)
    return suites[0]


def _reporting(done: Callable[[int], None], *, start: int = 0, width: int | None = None) -> Progress:
    """A progress wrapper for a worker: it tells `done` how far the worker is, every _REPORT_EVERY items
    and at the end; counted from `start`, and scaled so that all items make `width` units if given."""

    def progress(items: Iterable[Any], _label: str, total: int) -> Iterator[Any]:
        def report(count: int) -> None:
            done(start + (count if width is None else count * width // max(total, 1)))

        for count, item in enumerate(items, start=1):
            yield item
            if count % _REPORT_EVERY == 0:
                report(count)
        report(total)

    return progress


def _bounds(items: int, workers: int) -> list[int]:
    """Where each worker's contiguous run starts; the last entry is the end."""
    return [items * index // workers for index in range(workers + 1)]


def _in_workers(
    task: Callable[[int, Callable[[int], None]], Any],
    workers: int,
    progress: Progress,
    label: str,
    total: int,
) -> list[Any]:
    """`task(index, done)` run in `workers` forked processes; their results, in worker order. `done(n)`
    reports how far a worker is, in units of `total`, for the progress bar."""
    results: list[list[Any]] = []

    def ticks() -> Iterator[None]:
        results.append((yield from _run_workers(task, workers)))

    for _ in progress(ticks(), label, total):
        pass
    return results[0]


def _run_workers(
    task: Callable[[int, Callable[[int], None]], Any], workers: int
) -> Generator[None, None, list[Any]]:
    """Fork the workers, yield once per unit of progress they report, and return their results."""
    counters = mmap.mmap(-1, _COUNTER.size * workers)
    pipes: list[int] = []
    pids: list[int] = []
    finished = False
    try:
        for index in range(workers):
            read_end, write_end = os.pipe()
            sys.stdout.flush()
            sys.stderr.flush()
            try:
                pid = os.fork()
            except OSError as exc:
                os.close(read_end)
                os.close(write_end)
                raise WorkerError(
                    f"could not start analysis worker {index + 1} of {workers}: {exc} "
                    "(--jobs 1 analyzes in one process)"
                ) from None
            if pid == 0:  # the worker; it never returns
                os.close(read_end)
                _work(task, index, write_end, counters)
            os.close(write_end)
            pipes.append(read_end)
            pids.append(pid)
        payloads = yield from _collect(pipes, counters)
        finished = True
    finally:
        statuses = [_reap(pid, interrupted=not finished) for pid in pids]
        counters.close()
    return _results(payloads, statuses)


def _collect(pipes: list[int], counters: mmap.mmap) -> Generator[None, None, list[bytes]]:
    """Read every worker's answer, yielding once per unit of progress reported meanwhile; the answers."""
    payloads = [bytearray() for _ in pipes]
    index_of = {end: index for index, end in enumerate(pipes)}
    open_ends = set(pipes)
    reported = 0
    try:
        while open_ends:
            ready, _, _ = select.select(list(open_ends), [], [], 0.1)
            for end in ready:
                chunk = os.read(end, 1 << 20)
                if chunk:
                    payloads[index_of[end]] += chunk
                else:
                    open_ends.discard(end)
                    os.close(end)
            done = sum(value for (value,) in _COUNTER.iter_unpack(counters))
            yield from itertools.repeat(None, done - reported)
            reported = max(reported, done)
    finally:
        for end in open_ends:
            os.close(end)
    return [bytes(payload) for payload in payloads]


def _results(payloads: list[bytes], statuses: list[str]) -> list[Any]:
    results = []
    for index, (payload, status) in enumerate(zip(payloads, statuses, strict=True)):
        outcome, value = pickle.loads(payload) if payload else ("error", f"no answer ({status})")
        if outcome != "ok":
            raise WorkerError(
                f"analysis worker {index + 1} of {len(payloads)} failed: {value} "
                "(--jobs 1 analyzes in one process)"
            )
        results.append(value)
    return results


def _work(
    task: Callable[[int, Callable[[int], None]], Any], index: int, out: int, counters: mmap.mmap
) -> NoReturn:
    """The worker: run the task, send its result, and leave without running the parent's exit code."""

    def done(count: int) -> None:
        _COUNTER.pack_into(counters, index * _COUNTER.size, count)

    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends a worker at once
        payload = pickle.dumps(("ok", task(index, done)), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # whatever it was, the parent must hear of it
        payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
        code = 1
    try:
        with os.fdopen(out, "wb") as pipe:
            pipe.write(payload)
    finally:
        os._exit(code)


def _reap(pid: int, *, interrupted: bool) -> str:
    """Wait for a worker (ended first when the parent was interrupted); how it ended, in words."""
    if interrupted:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "already reaped"
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
