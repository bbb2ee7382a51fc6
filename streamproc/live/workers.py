"""Worker processes (DESIGN section 9): `serve --workers N` with N > 1.

The receiving process decodes every request (its answer, partial success included, is the one process's
answer) and sends each worker the spans of the traces it owns, chosen by trace id (`batches.partition`),
over a pipe. Each worker runs the whole live analysis of one process (`LiveAnalysis`: assembler, analyzers,
metrics, report windows, retained traces) on its traces, with its own completion ticker; its bounds are the
configured ones divided among the workers, so the host's memory stays as configured.

Reads ask every worker over a second pipe and merge what they answer: metric families summed sample by
sample (histogram buckets too; an exemplar kept per bucket), report windows' buckets and diagnosis
statistics merged as the batch path merges suites, retained traces put together. A scrape's counters
never go down: a worker's last scraped families stay counted after it dies, and each counter is shown at
least at the value shown before.

A worker that dies is replaced; the replacement is counted (`streamproc_worker_restarts_total`), and the
spans it held or had not yet confirmed as received count as dropped (`worker_lost`), logged once per death.
Workers ignore SIGINT and SIGTERM (the receiving process drains them), die with the receiving process
(PR_SET_PDEATHSIG, and the end of their pipe), and are stopped and joined, or killed, at shutdown.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

import structlog
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from streamproc.analyze.diagnosis import DiagnosisStats
from streamproc.analyze.filters import TraceFilter
from streamproc.analyze.suite import AnalysisOptions
from streamproc.decode.common import DecodeResult
from streamproc.errors import Unavailable, WorkerError
from streamproc.live.analysis import AnalysisReads
from streamproc.live.assembler import AssemblerLimits
from streamproc.live.batches import encode_batch, partition
from streamproc.live.merge import merge_families, merge_stats, retired, sum_retained
from streamproc.live.metrics import Scrape, retained_metrics, self_metrics
from streamproc.live.pipeline import LivePipeline, PipelineStats
from streamproc.live.retained import RetainedTrace
from streamproc.live.settings import Settings
from streamproc.live.windows import WindowSnapshot, WindowsState
from streamproc.live.worker_process import SYNC, worker_main, worker_settings
from streamproc.units import seconds_to_ns

T = TypeVar("T")

_READY_TIMEOUT_S = 60.0  # a worker's start: importing, then building its analysis
_ANSWER_TIMEOUT_S = 30.0  # a worker's answer to a read
_WATCH_EVERY_S = 0.2  # how often the receiving process looks for dead workers
_REFRESH_EVERY_S = 5.0  # and refreshes what it would keep of one that dies


# --- the receiving process's side -------------------------------------------------------------------------


class _Worker:
    """One worker process as the receiving process sees it."""

    def __init__(self, index: int, process: BaseProcess, data: Connection, control: Connection) -> None:
        self.index = index
        self.process = process
        self.data = data
        self.control = control
        self.send_lock = threading.Lock()
        self.control_lock = threading.Lock()
        self.sent: Counter[str] = Counter()  # spans sent (skipped ones too), by transport
        self.last_stats: PipelineStats | None = None
        self.last_scrape: Scrape | None = None
        self.failed = False


class WorkerPool(AnalysisReads):
    """`serve --workers N`: the receivers' intake and every read, over N worker processes."""

    def __init__(self, settings: Settings, workers: int) -> None:
        self.settings = settings
        self.count = workers
        self._share = worker_settings(settings, workers)
        self._context = multiprocessing.get_context("spawn")  # no fork of a process running gRPC threads
        self._workers: list[_Worker] = []
        self._intake = LivePipeline(limits=AssemblerLimits(), options=AnalysisOptions())  # counts only
        self._retired_stats: list[PipelineStats] = []
        self._retired_families: list[Metric] = []
        self._restarts = 0
        self._lost_in_flight: Counter[str] = Counter()  # spans for a worker found dead, by transport
        self._floor: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._floor_lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="worker-watcher", daemon=True)
        self._log = structlog.get_logger()

    # --- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start every worker and wait until each is ready."""
        pending = [self._spawn(index) for index in range(self.count)]
        for worker in pending:
            self._await_ready(worker)
        self._workers = pending
        self._watcher.start()

    def _spawn(self, index: int) -> _Worker:
        data_reader, data_writer = self._context.Pipe(duplex=False)  # the worker reads, this process writes
        control_here, control_there = self._context.Pipe()
        process = self._context.Process(
            target=worker_main,
            args=(index, self._share, data_reader, control_there, os.getpid()),
            name=f"streamproc-worker-{index}",
            daemon=True,
        )
        process.start()
        data_reader.close()
        control_there.close()
        return _Worker(index, process, data_writer, control_here)

    def _await_ready(self, worker: _Worker) -> None:
        if not worker.control.poll(_READY_TIMEOUT_S):
            worker.process.kill()
            raise WorkerError(f"worker {worker.index} did not start within {_READY_TIMEOUT_S:.0f} s")
        try:
            worker.control.recv()
        except EOFError:
            raise WorkerError(
                f"worker {worker.index} exited at start (code {worker.process.exitcode})"
            ) from None

    def drain(self) -> int:
        """Every worker completes and analyzes what it buffers (shutdown), the batches still in its pipe
        included (a SYNC mark follows them); returns how many traces."""
        for worker in list(self._workers):
            with worker.send_lock, contextlib.suppress(OSError):
                worker.data.send_bytes(SYNC)
        return sum(self._ask_all("drain", (), default=0))

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop every worker: the end of its input (closing the pipe never blocks, even on a worker that
        stopped reading), then a join; killed if it does not exit in time."""
        self._stopping.set()
        for worker in self._workers:
            with worker.send_lock:
                worker.data.close()
        deadline = time.monotonic() + timeout_s
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(1.0)
            worker.control.close()

    def pids(self) -> list[int]:
        return [worker.process.pid or 0 for worker in self._workers]

    # --- intake (`pipeline.Intake`) ----------------------------------------------------------------------

    def ingest(self, result: DecodeResult, transport: str = "grpc") -> None:
        for worker, (spans, skipped) in zip(
            self._workers, partition(result.spans, result.skipped, self.count), strict=True
        ):
            if spans or skipped:
                self._send(
                    worker, encode_batch(transport, spans, skipped), len(spans) + len(skipped), transport
                )

    def _send(self, worker: _Worker, blob: bytes, spans: int, transport: str) -> None:
        with worker.send_lock:
            if worker.failed:  # replaced, or about to be: these spans are lost with it
                self._lost_in_flight[transport] += spans
                return
            worker.sent[transport] += spans  # a broken pipe below: lost with the worker, counted then
            try:
                worker.data.send_bytes(blob)
            except OSError:
                worker.failed = True  # the watcher replaces it and counts what it lost

    def ingest_undecodable(self, transport: str = "grpc") -> None:
        self._intake.ingest_undecodable(transport)

    def auth_failed(self, listener: str) -> None:
        self._intake.auth_failed(listener)

    def refuse(self, span_count: int, reason: str, transport: str = "grpc") -> None:
        self._intake.refuse(span_count, reason, transport)

    def tick(self) -> int:
        return 0  # each worker completes its own traces

    def seconds_until_due(self) -> float | None:
        return None

    # --- dead workers ------------------------------------------------------------------------------------

    def _watch(self) -> None:
        refreshed = time.monotonic()
        while not self._stopping.wait(_WATCH_EVERY_S):
            for slot, worker in enumerate(self._workers):
                if not self._stopping.is_set() and (worker.failed or not worker.process.is_alive()):
                    self._replace(slot, worker)
            if time.monotonic() - refreshed >= _REFRESH_EVERY_S:
                refreshed = time.monotonic()
                self._scrapes()  # what a worker's death would leave counted is at most this old

    def _replace(self, slot: int, worker: _Worker) -> None:
        with worker.send_lock, worker.control_lock:
            worker.failed = True
            worker.process.join(1.0)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(1.0)
            stats = worker.last_stats
            confirmed = stats.received if stats is not None else {}
            unconfirmed = {t: max(0, n - confirmed.get(t, 0)) for t, n in worker.sent.items()}
            held = stats.assembler.buffered_spans if stats is not None else 0
            lost = sum(unconfirmed.values()) + held
            self._retired_stats.append(retired(stats, unconfirmed, lost))
            if worker.last_scrape is not None:
                self._retired_families.extend(worker.last_scrape.families)
            self._restarts += 1
            self._log.error(
                "worker_died",
                worker=worker.index,
                exit_code=worker.process.exitcode,
                lost_spans=lost,
                restarts=self._restarts,
            )
            worker.data.close()
            worker.control.close()
            replacement = self._spawn(worker.index)
            try:
                self._await_ready(replacement)
            except WorkerError:
                self._log.exception("worker_restart_failed", worker=worker.index)
                replacement.failed = True  # tried again on the next watch
            self._workers[slot] = replacement

    # --- reads -------------------------------------------------------------------------------------------

    def _ask(self, worker: _Worker, name: str, args: tuple[Any, ...]) -> tuple[bool, Any]:
        with worker.control_lock:
            if worker.failed:
                return False, None
            try:
                worker.control.send((name, args))
                if not worker.control.poll(_ANSWER_TIMEOUT_S):
                    raise TimeoutError(f"no answer to {name} in {_ANSWER_TIMEOUT_S:.0f} s")
                status, value = worker.control.recv()
            except (OSError, EOFError, TimeoutError):
                worker.failed = True  # replaced by the watcher; this read goes on without it
                return False, None
        return status == "ok", value

    def _ask_all(self, name: str, args: tuple[Any, ...], *, default: T) -> list[Any]:
        answers: list[Any] = []
        for worker in list(self._workers):
            ok, value = self._ask(worker, name, args)
            answers.append(value if ok else default)
        return answers

    def _scrapes(self) -> list[Scrape]:
        scrapes = self._remembered("scrape")
        self.worker_stats()
        return scrapes

    def worker_stats(self) -> list[PipelineStats]:
        """Each live worker's counts, in worker order (remembered, for when one dies)."""
        return self._remembered("stats")

    def _remembered(self, name: str) -> list[Any]:
        """Each live worker's answer to `name` (scrape or stats), kept as its last one."""
        answers = []
        for worker in list(self._workers):
            ok, value = self._ask(worker, name, ())
            if ok:
                setattr(worker, f"last_{name}", value)
                answers.append(value)
        return answers

    def stats(self) -> PipelineStats:
        live = self.worker_stats()
        in_flight = dict(self._lost_in_flight)
        lost = retired(None, in_flight, sum(in_flight.values()))
        merged = merge_stats([*live, *self._retired_stats, lost], intake=self._intake.stats())
        return dataclasses.replace(merged, workers=self.count, worker_restarts=self._restarts)

    def collector(self) -> Collector:
        return _PoolCollector(self)

    def scrape(self) -> Scrape:
        scrapes = self._scrapes()
        families = merge_families([self._retired_families, *(s.families for s in scrapes)])
        return Scrape(
            families,
            dict(sum((Counter(s.overflow) for s in scrapes), Counter())),
            WindowsState(*(sum(column) for column in zip(*(s.windows for s in scrapes), strict=True)))
            if scrapes
            else WindowsState(0, 0, 0),
            sum_retained([s.retained for s in scrapes]),
        )

    def never_lower(self, families: list[Metric]) -> list[Metric]:
        """Counters and histograms shown at least at the value shown before (see the module's text)."""
        with self._floor_lock:
            for family in families:
                if family.type not in ("counter", "histogram"):
                    continue
                kept = []
                for sample in family.samples:
                    key = (sample.name, tuple(sorted(sample.labels.items())))
                    value = max(sample.value, self._floor.get(key, 0.0))
                    self._floor[key] = value
                    kept.append(sample._replace(value=value))
                family.samples = kept
        return families

    @property
    def retention_ns(self) -> int:
        return seconds_to_ns(self.settings.report_retention)

    def wall_ns(self) -> int:
        return time.time_ns()

    def window_snapshot(self, *, window_ns: int, rules: TraceFilter | None) -> WindowSnapshot:
        parts: list[WindowSnapshot] = [
            s for s in self._ask_all("window", (window_ns, rules), default=None) if s is not None
        ]
        if not parts:
            raise Unavailable("workers", "no worker process answered; try again")
        first = parts[0]
        recent = None if first.recent is None else [tree for part in parts for tree in part.recent or ()]
        return WindowSnapshot(
            first.options,
            [bucket for part in parts for bucket in part.buckets],
            recent,
            first.asked_ns,
            first.window_ns,
            max(part.now_ns for part in parts),
            first.rules,
            all(part.complete for part in parts),
        )

    def diagnosis_sides(
        self, *, window_ns: int, baseline_ns: int
    ) -> tuple[int, DiagnosisStats, DiagnosisStats]:
        before, after, now = DiagnosisStats(), DiagnosisStats(), 0
        for part in self._ask_all("diagnosis", (window_ns, baseline_ns), default=None):
            if part is not None:
                now = max(now, part[0])
                before.merge(part[1])
                after.merge(part[2])
        return now or self.wall_ns(), before, after

    def retained_snapshot(self) -> list[RetainedTrace]:
        parts: list[list[RetainedTrace]] = self._ask_all("retained", (), default=[])
        entries = [entry for part in parts for entry in part]
        return sorted(entries, key=lambda entry: entry.completed_ns)

    def retained_trace(self, trace_id: bytes) -> RetainedTrace | None:
        ok, value = self._ask(self._workers[hash(trace_id) % self.count], "trace", (trace_id,))
        return value if ok else None


class _PoolCollector(Collector):
    def __init__(self, pool: WorkerPool) -> None:
        self._pool = pool

    def collect(self) -> Iterator[Metric]:
        pool = self._pool
        scrape = pool.scrape()
        families = [
            *scrape.families,
            *self_metrics(pool.stats(), scrape.overflow, scrape.windows),
            *retained_metrics(scrape.retained),
        ]
        yield from pool.never_lower(families)
