"""The live service's lifecycle: start downstream first, stop upstream first, drain (an adapter: threads,
signals and clocks live here).

start:    worker processes (`serve --workers N`), or the completion ticker of the one process -> HTTP
          (metrics, health) -> OTLP receivers (gRPC, HTTP)
shutdown: the receivers answer UNAVAILABLE / 503 and health turns NOT_SERVING; in-flight requests
          finish; every buffered trace is completed and analyzed; /metrics stays served for
          `drain_seconds` so that Prometheus scrapes the last counts; then the gRPC and HTTP servers stop.
          Idempotent. Every wait works to one deadline: `drain_seconds` plus the timeout `shutdown` is
          given.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from streamproc.buildinfo import build_name
from streamproc.live.admission import Admission
from streamproc.live.analysis import LiveAnalysis
from streamproc.live.endpoints import HttpEndpoints
from streamproc.live.http_receiver import OtlpHttpReceiver
from streamproc.live.pipeline import LivePipeline
from streamproc.live.query_service import AnalysisServicer, serving
from streamproc.live.receiver import OtlpReceiver
from streamproc.live.settings import Settings, split_listen
from streamproc.live.worker_process import run_ticker, tune_garbage_collector
from streamproc.live.workers import WorkerPool

#: The settings the startup line names (durations with an `_s` suffix).
_LOGGED_DURATIONS = ("idle_timeout", "root_grace", "max_trace_age")
_LOGGED_LIMITS = (
    "retained_spans",
    "max_traces",
    "max_buffered_spans",
    "max_spans_per_trace",
    "max_message_size",
    "cardinality_limit",
    "drain_seconds",
)
_SIGNAL_POLL_S = 0.1


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: WorkerPool | None = None
        self.analysis: LiveAnalysis | WorkerPool
        self.pipeline: LivePipeline | WorkerPool
        workers = settings.worker_count()
        if workers > 1:
            self.analysis = self.pipeline = self.pool = WorkerPool(settings, workers)
        else:
            self.analysis = LiveAnalysis.from_settings(settings)
            self.pipeline = self.analysis.pipeline
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.analysis.collector())
        tls = settings.tls()
        grpc_host, grpc_port = split_listen(settings.grpc_listen)
        queries = AnalysisServicer(  # the HTTP API's token: it serves what /api/report and /api/traces do
            self.analysis,
            bearer_token=settings.http_token(),
            auth_failed=lambda: self.pipeline.auth_failed("grpc"),
        )
        http_host, http_port = split_listen(settings.http_listen)
        self.admission = Admission(
            max_inflight=settings.max_inflight_requests, max_inflight_bytes=settings.max_inflight_bytes
        )
        self.receiver = OtlpReceiver(
            self.pipeline,
            host=grpc_host,
            port=grpc_port,
            max_message_size=settings.max_message_size,
            admission=self.admission,
            workers=settings.grpc_workers,
            bearer_token=settings.ingest_token(),
            min_deadline_left_s=settings.min_deadline_left,
            credentials=tls.grpc_credentials() if tls else None,
            also_serve=[serving(queries)],
        )
        otlp_host, otlp_port = split_listen(settings.http_otlp_listen)
        self.http_receiver = OtlpHttpReceiver(
            self.pipeline,
            host=otlp_host,
            port=otlp_port,
            admission=self.admission,
            max_message_size=settings.max_message_size,
            bearer_token=settings.ingest_token(),
            tls=tls.ssl_context() if tls else None,
        )
        try:
            self.http = HttpEndpoints(
                host=http_host,
                port=http_port,
                registry=self.registry,
                report=self.analysis.report,
                ready=lambda: self.admission.accepting,
                tls=tls.ssl_context() if tls else None,
                bearer_token=settings.http_token(),
                auth_failed=lambda: self.pipeline.auth_failed("http"),
                jaeger=self.analysis.jaeger_api(),
                diagnose=self.analysis.diagnose,
            )
        except OSError:
            self.http_receiver.shutdown()  # bound already: a failed start leaves no listener open
            raise
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="completion-ticker", daemon=True)
        self._shutdown_lock = threading.Lock()
        self._stopped = False
        self._log = structlog.get_logger()

    def start(self) -> None:
        if self.pool is not None:
            self.pool.start()  # each worker completes its own traces: no ticker here
        else:
            self._ticker.start()
        self.http.start()
        self.receiver.start()
        self.http_receiver.start()
        self.admission.accepting = True
        s = self.settings
        self._log.info(
            "streamproc_started",
            grpc=f"{split_listen(s.grpc_listen)[0]}:{self.receiver.port}",
            otlp_http=f"{split_listen(s.http_otlp_listen)[0]}:{self.http_receiver.port}",
            http=f"{split_listen(s.http_listen)[0]}:{self.http.port}",
            **{f"{name}_s": getattr(s, name) for name in _LOGGED_DURATIONS},
            **{name: getattr(s, name) for name in _LOGGED_LIMITS},
            workers=1 if self.pool is None else self.pool.count,
            build=build_name(),
        )

    def stop_accepting(self) -> None:
        """From now on every OTLP request is refused as retryable (UNAVAILABLE, HTTP 503), gRPC health
        says NOT_SERVING and /readyz 503."""
        self.admission.accepting = False
        self.receiver.stop_accepting()

    def _tick(self) -> None:
        if isinstance(self.pipeline, LivePipeline):
            run_ticker(self.pipeline, self._stop, self.settings.tick_interval)

    def request_stop(self, *_: Any) -> None:
        """Ask the service to stop (safe from a signal handler)."""
        self._stop.set()

    def wait(self) -> None:
        """Block until asked to stop. Wakes periodically: a process signal may be delivered to any thread
        (gRPC's among them), and Python runs its handler only when the main thread next executes bytecode;
        an untimed wait would sleep through SIGTERM."""
        while not self._stop.wait(_SIGNAL_POLL_S):
            pass

    def shutdown(self, timeout_s: float = 10.0) -> dict[str, int]:
        """Drain and stop within `drain_seconds` plus `timeout_s`; returns what was drained. Safe to call
        more than once (later calls return an empty dict)."""
        with self._shutdown_lock:
            if self._stopped:
                return {}
            self._stopped = True
        deadline = time.monotonic() + self.settings.drain_seconds + timeout_s

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        self._stop.set()
        buffered = self.pipeline.stats().assembler.buffered_spans
        self.stop_accepting()
        self.admission.wait_idle(timeout_s=left())
        if self._ticker.is_alive():
            self._ticker.join(timeout=left())
        drained = self.pipeline.drain()
        self._log.info(
            "streamproc_draining",
            traces=drained,
            spans=buffered,
            metrics_served_for_s=self.settings.drain_seconds,
        )
        time.sleep(min(self.settings.drain_seconds, left()))
        self.receiver.shutdown(grace_s=left())
        self.http_receiver.shutdown(timeout_s=left())
        self.http.shutdown(timeout_s=left())
        stats = self.pipeline.stats()
        if self.pool is not None:
            self.pool.close(timeout_s=left())
        summary = {
            "drained_traces": drained,
            "drained_spans": buffered,
            "spans_received": stats.spans_received,
            "traces_analyzed": stats.traces_analyzed,
        }
        self._log.info("streamproc_stopped", **summary)
        return summary


def serve(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT, then drain; the exit code."""
    tune_garbage_collector()
    service = Service(settings)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        service.request_stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        service.start()
        service.wait()
    finally:
        service.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
