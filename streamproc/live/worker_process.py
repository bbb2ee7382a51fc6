"""A worker process of `serve --workers N` (`live.workers` starts and reads it): the live analysis of one
process over the traces it owns, fed batches of spans on one pipe, answering reads on another."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import structlog

from streamproc.decode.common import DecodeResult
from streamproc.decode.otlp_request import decode_request
from streamproc.decode.protowire import WireFormatError
from streamproc.live.analysis import LiveAnalysis
from streamproc.live.batches import decode_batch
from streamproc.live.logs import configure_logging
from streamproc.live.pipeline import LivePipeline
from streamproc.live.settings import Settings

_MIN_TICK_S = 0.005
_FULL_COLLECTION_EVERY = 100  # second-generation collections between full ones (CPython's default: 10)
_PR_SET_PDEATHSIG = 1
#: On the data pipe, besides batches (MessagePack arrays): a mark that everything sent before it was taken
#: in; a routed request to decode and hold; the commit or abort of one (the pipe's end stops the worker).
SYNC = b"\x00"
ROUTED = b"R"
COMMIT = b"C"
ABORT = b"A"
_SYNC_TIMEOUT_S = 60.0


def tune_garbage_collector() -> None:
    """Full collections of the cyclic GC walk every live object (the buffered spans, the report windows)
    and paused the server for 90-140 ms every few seconds under load, which was the tail of completion
    latency. Spans and traces hold no reference cycles, so full collections are made ten times rarer, and
    what was loaded at startup is left out of them (the serving process's and each worker's setting)."""
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, _FULL_COLLECTION_EVERY)


def run_ticker(pipeline: LivePipeline, stop: threading.Event, interval: float) -> None:
    """Complete traces when they are due until `stop`: sleep until the next deadline, between `_MIN_TICK_S`
    (to batch the work of a busy buffer) and `interval` (an empty buffer, or one far from its deadlines)."""
    log = structlog.get_logger()

    def wait() -> float:
        due = pipeline.seconds_until_due()
        return interval if due is None else min(interval, max(_MIN_TICK_S, due))

    while not stop.wait(wait()):
        try:
            pipeline.tick()
        except Exception:  # a bug in an analyzer must not stop trace completion for good
            log.exception("tick_failed")


def worker_settings(settings: Settings, workers: int) -> Settings:
    """A worker's share of the bounds: the host's buffers and stores stay as configured in all."""
    return dataclasses.replace(
        settings,
        workers=1,
        max_traces=max(1, settings.max_traces // workers),
        max_buffered_spans=max(1, settings.max_buffered_spans // workers),
        report_recent_traces=max(1, settings.report_recent_traces // workers),
        report_recent_spans=max(1, settings.report_recent_spans // workers),
        retained_spans=settings.retained_spans // workers,
    )


def worker_main(  # noqa: PLR0917 - the process's arguments, in the order the pool passes them
    index: int, settings: Settings, data: Connection, control: Connection, replies: Connection, parent: int
) -> None:
    """A worker: spans from `data` into its analysis; reads answered on `control`; routed requests
    decoded and answered on `replies`, taken in when the receiving process commits them."""
    with contextlib.suppress(OSError, AttributeError):  # Linux: die with the receiving process
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        return  # the receiving process is already gone
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # the receiving process drains and stops the workers
    configure_logging(settings.log_format, settings.log_level)
    analysis = LiveAnalysis.from_settings(settings)
    tune_garbage_collector()
    stop = threading.Event()
    ticker = threading.Thread(
        target=run_ticker, args=(analysis.pipeline, stop, settings.tick_interval), daemon=True
    )
    ticker.start()
    control.send(("ready", os.getpid()))
    synced = threading.Event()
    threading.Thread(target=_answer_reads, args=(analysis, control, synced), daemon=True).start()
    log = structlog.get_logger().bind(worker=index)
    pending: dict[bytes, tuple[str, DecodeResult]] = {}  # decoded routed requests awaiting commit
    while True:
        try:
            blob = data.recv_bytes()
        except (EOFError, OSError):
            break
        kind = blob[:1]
        if kind == SYNC:  # every batch sent before it is in: a drain may go ahead
            synced.set()
        elif kind == ROUTED:
            _decode_routed(blob, pending, replies)
        elif kind == COMMIT:
            entry = pending.pop(blob[1:9], None)
            if entry is not None:
                analysis.pipeline.ingest(entry[1], entry[0])
        elif kind == ABORT:
            pending.pop(blob[1:9], None)
        else:
            try:
                transport, result = decode_batch(blob)
            except Exception:  # a bug, not an input: the receiving process made the batch
                log.exception("batch_undecodable", size=len(blob))
                continue
            analysis.pipeline.ingest(result, transport)
    stop.set()
    ticker.join(timeout=5)


def _decode_routed(blob: bytes, pending: dict[bytes, tuple[str, DecodeResult]], replies: Connection) -> None:
    """A routed request (`ROUTED`, its 8-byte id, its transport's length and name, its bytes): decoded
    and held; the answer is the spans it holds and the skipped ones, or why it does not decode."""
    key, size = blob[1:9], blob[9]
    transport = blob[10 : 10 + size].decode()
    try:
        result = decode_request(blob[10 + size :])
    except WireFormatError as exc:
        replies.send((key, str(exc), 0, []))
        return
    pending[key] = (transport, result)
    replies.send((key, None, len(result.spans) + len(result.skipped), result.skipped))


def _answer_reads(analysis: LiveAnalysis, control: Connection, synced: threading.Event) -> None:
    def drain() -> int:
        """After the data pipe's SYNC: the batches sent before the drain are buffered, then completed."""
        synced.wait(_SYNC_TIMEOUT_S)
        return analysis.pipeline.drain()

    reads: dict[str, Callable[..., Any]] = {
        "scrape": analysis.scrape,
        "stats": analysis.pipeline.stats,
        "window": lambda window_ns, rules: analysis.window_snapshot(window_ns=window_ns, rules=rules),
        "diagnosis": lambda window_ns, baseline_ns: analysis.diagnosis_sides(
            window_ns=window_ns, baseline_ns=baseline_ns
        ),
        "retained": analysis.retained_snapshot,
        "trace": analysis.retained_trace,
        "drain": drain,
    }
    while True:
        try:
            name, args = control.recv()
        except (EOFError, OSError):
            return
        try:
            control.send(("ok", reads[name](*args)))
        except Exception as exc:  # answered, so that the receiving process goes on without this part
            structlog.get_logger().exception("worker_read_failed", read=name)
            control.send(("error", repr(exc)))
