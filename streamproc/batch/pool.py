"""A pool of forked worker processes: `task(index, done)` run in N processes, their results in order.

Generic: it knows nothing of traces. Workers are forked, so they read what the parent holds without copying
it through a pipe; each sends its result back pickled and reports its progress through a shared counter,
so the parent can drive a progress bar. Forking is only safe in a process with one thread: `can_fork`
answers False on platforms without fork, outside Linux, and whenever another thread is running.
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
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any, NoReturn

#: `progress(items, label, total)`: `items`, counted on a progress bar where one is shown.
Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]
#: `task(index, done)`: the work of worker `index`; `done(n)` tells how far it is, in units of the total.
Task = Callable[[int, Callable[[int], None]], Any]

#: Workers report their progress every this many items.
_REPORT_EVERY = 256
_COUNTER = struct.Struct("q")


class PoolError(Exception):
    """A worker could not be started or ended without its result. `index` counts from 1."""

    def __init__(self, index: int, workers: int, problem: str) -> None:
        super().__init__(f"worker {index} of {workers} {problem}")


def no_progress(items: Iterable[Any], _label: str, _total: int) -> Iterable[Any]:
    return items


def can_fork() -> bool:
    return sys.platform == "linux" and hasattr(os, "fork") and threading.active_count() == 1


def usable_cpus() -> int:
    """CPUs this process may run on (a container's cpuset, `taskset`), not all the machine has."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def bounds(items: int, workers: int) -> list[int]:
    """Where each worker's contiguous run of `items` starts; the last entry is the end."""
    return [items * index // workers for index in range(workers + 1)]


def reporting(done: Callable[[int], None], *, start: int = 0, width: int | None = None) -> Progress:
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


def run_in_workers(task: Task, workers: int, progress: Progress, label: str, total: int) -> list[Any]:
    """`task(index, done)` run in `workers` forked processes; their results, in worker order. `done(n)`
    reports how far a worker is, in units of `total`, for the progress bar. Raises PoolError."""
    results: list[list[Any]] = []

    def ticks() -> Iterator[None]:
        results.append((yield from _run_workers(task, workers)))

    for _ in progress(ticks(), label, total):
        pass
    return results[0]


def _run_workers(task: Task, workers: int) -> Generator[None, None, list[Any]]:
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
                raise PoolError(index + 1, workers, f"could not start: {exc}") from None
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
            raise PoolError(index + 1, len(payloads), f"failed: {value}")
        results.append(value)
    return results


def _work(task: Task, index: int, out: int, counters: mmap.mmap) -> NoReturn:
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
