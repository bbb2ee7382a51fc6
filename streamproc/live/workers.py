"""Worker processes (DESIGN section 9): `serve --workers N` with N > 1.

Each worker runs the live analysis of one process (`LiveAnalysis`, with its own ticker and 1/N of the
bounds) on the traces it owns, chosen by trace id. A protobuf request is split by trace id at the byte
level (`decode.otlp_route`); each worker decodes its share and answers; then every worker takes its share
in, or none does (a share that does not decode refuses the request whole, as one process would). JSON
bodies, and every request in the pure build, are decoded here and sent as batches (`batches`). Reads ask
every worker and merge (`pool_reads`, `merge`). A worker that dies is replaced, counted
(`streamproc_worker_restarts_total`) and logged once; the spans it held or had not confirmed count as
dropped (`worker_lost`). Workers ignore SIGINT and SIGTERM (the server drains them) and die with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import multiprocessing
import os
import threading
import time
from collections import Counter
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import structlog
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from streamproc.analyze.suite import AnalysisOptions
from streamproc.decode.common import DecodeResult
from streamproc.decode.otlp_request import DECODER, decode_request
from streamproc.decode.otlp_route import route_request
from streamproc.decode.otlp_wire import count_spans
from streamproc.decode.protowire import WireFormatError
from streamproc.errors import Unavailable, WorkerError
from streamproc.live.assembler import AssemblerLimits
from streamproc.live.batches import encode_batch, partition
from streamproc.live.merge import merge_families, merge_stats, retired, sum_retained
from streamproc.live.metrics import Scrape
from streamproc.live.pipeline import LivePipeline, PipelineStats
from streamproc.live.pool_reads import PoolCollector, PoolReads
from streamproc.live.settings import Settings
from streamproc.live.windows import WindowsState
from streamproc.live.worker_process import ABORT, COMMIT, ROUTED, SYNC, worker_main, worker_settings
from streamproc.model import SkippedSpan

_READY_TIMEOUT_S = 60.0  # a worker's start: importing, then building its analysis
_ANSWER_TIMEOUT_S = 30.0  # a worker's answer to a read
_WATCH_EVERY_S = 0.2  # how often the receiving process looks for dead workers
_REFRESH_EVERY_S = 5.0  # and refreshes what it would keep of one that dies


# --- the receiving process's side -------------------------------------------------------------------------


class _Worker:
    """One worker process as the receiving process sees it."""

    def __init__(
        self, index: int, process: BaseProcess, data: Connection, control: Connection, replies: Connection
    ) -> None:
        self.index = index
        self.process = process
        self.data = data
        self.control = control
        self.replies = replies
        self.send_lock = threading.Lock()
        self.control_lock = threading.Lock()
        self.sent: Counter[str] = Counter()  # spans sent (skipped ones too), by transport
        self.last_stats: PipelineStats | None = None
        self.last_scrape: Scrape | None = None
        self.failed = False


class _Waiter:
    """One routed request's answers from the workers it went to (by slot)."""

    def __init__(self, slots: list[int]) -> None:
        self.slots = set(slots)
        self.answers: dict[int, tuple[str | None, int, list[SkippedSpan]]] = {}
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.failed = False

    def answer(self, slot: int, error: str | None, spans: int, skipped: list[SkippedSpan]) -> None:
        with self.lock:
            self.answers[slot] = (error, spans, skipped)
            if len(self.answers) >= len(self.slots):
                self.done.set()

    def fail(self) -> None:
        self.failed = True
        self.done.set()


class WorkerPool(PoolReads):
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
        self._waiters: dict[bytes, _Waiter] = {}
        self._ids = itertools.count()
        self._route = DECODER == "wire"  # split the bytes where the wire decoder is compiled
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
        replies_reader, replies_writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=worker_main,
            args=(index, self._share, data_reader, control_there, replies_writer, os.getpid()),
            name=f"streamproc-worker-{index}",
            daemon=True,
        )
        process.start()
        data_reader.close()
        control_there.close()
        replies_writer.close()
        worker = _Worker(index, process, data_writer, control_here, replies_reader)
        threading.Thread(
            target=self._read_replies, args=(worker,), name=f"worker-{index}-replies", daemon=True
        ).start()
        return worker

    def _read_replies(self, worker: _Worker) -> None:
        """Hand each answer to a routed request to its waiter; when the worker is gone, fail the waiters
        still expecting it."""
        while True:
            try:
                key, error, spans, skipped = worker.replies.recv()
            except (EOFError, OSError):
                break
            waiter = self._waiters.get(key)
            if waiter is not None:
                waiter.answer(worker.index, error, spans, skipped)
        for waiter in list(self._waiters.values()):
            if worker.index in waiter.slots and worker.index not in waiter.answers:
                waiter.fail()

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
            worker.replies.close()

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

    def ingest_request(self, raw: bytes, transport: str = "grpc") -> DecodeResult:
        """An OTLP protobuf request: split by trace id at the byte level, each share decoded by the worker
        that owns it, then taken in by all of them or by none (a share that does not decode refuses the
        whole request, as one process would). Returns the skipped spans for partial success. The pure
        build decodes here instead (its wire decoder is slower than the runtime)."""
        if not self._route:
            result = decode_request(raw)
            self.ingest(result, transport)
            return result
        shares = route_request(raw, self.count)
        slots = [slot for slot, share in enumerate(shares) if share]
        if not slots:
            return DecodeResult()
        key = next(self._ids).to_bytes(8, "big")
        waiter = _Waiter(slots)
        targets = {slot: self._workers[slot] for slot in slots}
        self._waiters[key] = waiter
        try:
            label = bytes([len(transport)]) + transport.encode()
            for slot, worker in targets.items():
                if not self._write(worker, ROUTED + key + label + shares[slot]):
                    waiter.fail()
            if not waiter.done.wait(_ANSWER_TIMEOUT_S):
                waiter.fail()
        finally:
            del self._waiters[key]
        return self._settle(key, waiter, targets, raw, transport)

    def _settle(
        self, key: bytes, waiter: _Waiter, targets: dict[int, _Worker], raw: bytes, transport: str
    ) -> DecodeResult:
        """Commit a routed request in every worker, or abort it in those that took it."""
        answers = dict(waiter.answers)
        problems = [error for error, _, _ in answers.values() if error]
        if waiter.failed or problems:
            for slot, (error, _, _) in answers.items():
                if error is None:
                    self._write(targets[slot], ABORT + key)
            if problems:
                raise WireFormatError(problems[0])
            self._intake.refuse(count_spans(raw), "worker_restart", transport)
            raise Unavailable("worker_restart", "a worker process is being replaced; retry")
        skipped: list[SkippedSpan] = []
        for slot, worker in targets.items():
            _, spans, skips = answers[slot]
            self._send(worker, COMMIT + key, spans, transport)  # died since its answer: lost with it
            skipped.extend(skips)
        return DecodeResult([], skipped)

    def _write(self, worker: _Worker, blob: bytes) -> bool:
        with worker.send_lock:
            return self._write_locked(worker, blob)

    def _write_locked(self, worker: _Worker, blob: bytes) -> bool:
        if worker.failed:
            return False
        try:
            worker.data.send_bytes(blob)
        except OSError:
            worker.failed = True  # the watcher replaces it
            return False
        return True

    def _send(self, worker: _Worker, blob: bytes, spans: int, transport: str) -> None:
        """`blob` to the worker, its `spans` counted as sent to it, or as lost if it is dead (in both cases
        the watcher's replacement accounts for them: received, then dropped as worker_lost)."""
        with worker.send_lock:
            if self._write_locked(worker, blob):
                worker.sent[transport] += spans
            else:
                self._lost_in_flight[transport] += spans

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
            worker.replies.close()
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

    def _ask_all(self, name: str, args: tuple[Any, ...], *, default: Any) -> list[Any]:
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
        return PoolCollector(self.scrape, self.stats)

    def _ask_owner(self, trace_id: bytes, name: str, args: tuple[Any, ...]) -> Any:
        ok, value = self._ask(self._workers[hash(trace_id) % self.count], name, args)
        return value if ok else None

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
