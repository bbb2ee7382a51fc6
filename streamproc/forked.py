"""A batch's analysis split across forked worker processes, merged into one suite.

The traces are cut into contiguous chunks, one per worker; each worker analyzes its chunk into its own
`AnalysisSuite` and sends it back pickled; the parent merges them in chunk order. The analyzers are
order-independent by design (examples are the lowest trace ids, the slowest paths are totally ordered,
every report list is sorted on full keys), so the merged report equals the serial one byte for byte; a
test holds that.

Workers are forked, so they read the parent's decoded traces without copying them through a pipe. Forking
is only safe in a process with one thread: `worker_count` answers 1 (analyze in this process) on platforms
without fork, outside Linux, and whenever another thread is running.
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
import os
import pickle
import select
import signal
import struct
import sys
import threading
from collections.abc import Generator, Iterator, Sequence
from typing import NoReturn

from streamproc.analyze import AnalysisOptions, AnalysisSuite, TraceTree
from streamproc.batch import Progress, analyze_trees
from streamproc.errors import WorkerError

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
    return max(1, min(os.cpu_count() or 1, traces // MIN_TRACES_PER_WORKER))


def analyze_in_workers(
    trees: list[TraceTree], options: AnalysisOptions, progress: Progress, *, jobs: int | None
) -> AnalysisSuite:
    """The suite over `trees`, from `worker_count(jobs, ...)` forked workers (or this process, if one)."""
    workers = worker_count(jobs, len(trees))
    if workers <= 1:
        return analyze_trees(trees, options, progress)
    merged: list[AnalysisSuite] = []

    def analyzed() -> Iterator[None]:
        merged.append((yield from _run_workers(trees, options, workers)))

    for _ in progress(analyzed(), "analyzing", len(trees)):
        pass
    return merged[0]


def _run_workers(
    trees: Sequence[TraceTree], options: AnalysisOptions, workers: int
) -> Generator[None, None, AnalysisSuite]:
    """Fork the workers, yield once per trace they report analyzed, and return their merged suite."""
    bounds = [len(trees) * index // workers for index in range(workers + 1)]
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
                _work(trees[bounds[index] : bounds[index + 1]], options, write_end, counters, index)
            os.close(write_end)
            pipes.append(read_end)
            pids.append(pid)
        payloads = yield from _collect(pipes, counters)
        finished = True
    finally:
        statuses = [_reap(pid, interrupted=not finished) for pid in pids]
        counters.close()
    return _merge(payloads, statuses)


def _collect(pipes: list[int], counters: mmap.mmap) -> Generator[None, None, list[bytes]]:
    """Read every worker's answer, yielding once per trace the workers report meanwhile; the answers."""
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
            reported = done
    finally:
        for end in open_ends:
            os.close(end)
    return [bytes(payload) for payload in payloads]


def _merge(payloads: list[bytes], statuses: list[str]) -> AnalysisSuite:
    suites = []
    for index, (payload, status) in enumerate(zip(payloads, statuses, strict=True)):
        outcome, value = pickle.loads(payload) if payload else ("error", f"no answer ({status})")
        if outcome != "ok" or not isinstance(value, AnalysisSuite):
            raise WorkerError(
                f"analysis worker {index + 1} of {len(payloads)} failed: {value} "
                "(--jobs 1 analyzes in one process)"
            )
        suites.append(value)
    merged = suites[0]
    for suite in suites[1:]:
        merged.merge(suite)
    return merged


def _work(
    chunk: Sequence[TraceTree], options: AnalysisOptions, out: int, counters: mmap.mmap, slot: int
) -> NoReturn:
    """The worker: analyze the chunk, send the suite, and leave without running the parent's exit code."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends a worker at once
        suite = AnalysisSuite(options)
        for count, tree in enumerate(chunk, start=1):
            suite.observe_tree(tree)
            if count % _REPORT_EVERY == 0:
                _COUNTER.pack_into(counters, slot * _COUNTER.size, count)
        _COUNTER.pack_into(counters, slot * _COUNTER.size, len(chunk))
        payload = pickle.dumps(("ok", suite), protocol=pickle.HIGHEST_PROTOCOL)
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
