"""HTTP endpoints (an adapter): /metrics, /healthz, /readyz and /api/report on a stdlib threading server.

/metrics negotiates the Prometheus text format or OpenMetrics (which carries exemplars) from the Accept
header, as client_python's own handler does. /api/report takes the CLI's section and filter flags as query
parameters: window (default 15m), bottlenecks, critical_path, errors, dependencies, top, service,
errors_only, latency_threshold, bottleneck sections absent unless asked (none asked: all).
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from streamproc.analyze.filters import TraceFilter
from streamproc.analyze.schema import Report
from streamproc.analyze.suite import ALL_SECTIONS, Section
from streamproc.errors import UsageError
from streamproc.jsonio import dumps, dumps_indented
from streamproc.live.status import status_of
from streamproc.units import parse_duration_s, seconds_to_ns

_TRUE = ("1", "true", "yes", "")
_SECTION_PARAMS = {
    "bottlenecks": Section.BOTTLENECKS,
    "critical_path": Section.CRITICAL_PATH,
    "critical-path": Section.CRITICAL_PATH,
    "errors": Section.ERRORS,
    "dependencies": Section.DEPENDENCIES,
}


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """What /api/report asks for."""

    window_ns: int
    sections: frozenset[Section]
    top: int
    rules: TraceFilter


class ReportSource(Protocol):
    def __call__(
        self, *, window_ns: int, sections: frozenset[Section], top: int | None, rules: TraceFilter | None
    ) -> Report: ...


def report_query(query: str) -> ReportQuery:
    """Parse /api/report's query string; UsageError on a bad parameter."""
    params = urllib.parse.parse_qs(query, keep_blank_values=True)

    def one(name: str) -> str | None:
        values = params.get(name) or params.get(name.replace("_", "-"))
        return values[-1] if values else None

    known = {
        "window",
        "top",
        "service",
        "errors_only",
        "errors-only",
        "latency_threshold",
        "latency-threshold",
        *_SECTION_PARAMS,
    }
    unknown = sorted(set(params) - known)
    if unknown:
        raise UsageError(f"unknown parameter(s): {', '.join(unknown)}")
    window_s = parse_duration_s(one("window") or "15m", "window")
    top_text = one("top") or "10"
    if not top_text.isdigit() or int(top_text) < 1:
        raise UsageError(f"top: {top_text!r} is not a whole number of at least 1")
    latency = one("latency_threshold")
    try:
        latency_ms = float(latency) if latency is not None else None
    except ValueError:
        raise UsageError(f"latency_threshold: {latency!r} is not a number") from None
    sections = frozenset(s for name, s in _SECTION_PARAMS.items() if name in params and one(name) in _TRUE)
    errors_only = one("errors_only")
    rules = TraceFilter(
        service=one("service"),
        latency_threshold_ms=latency_ms,
        errors_only=errors_only is not None and errors_only in _TRUE,
    )
    return ReportQuery(seconds_to_ns(window_s), sections or ALL_SECTIONS, int(top_text), rules)


class HttpEndpoints:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        registry: CollectorRegistry,
        report: ReportSource,
        ready: Callable[[], bool],
    ) -> None:
        endpoints = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "streamproc"

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                route = {
                    "/metrics": endpoints._metrics,
                    "/healthz": endpoints._healthz,
                    "/readyz": endpoints._readyz,
                    "/api/report": endpoints._report,
                }.get(url.path)
                if route is None:
                    self._send(
                        404,
                        "text/plain; charset=utf-8",
                        b"not found: try /metrics, /healthz, /readyz, /api/report\n",
                    )
                    return
                status, content_type, body = route(url.query, self.headers.get("Accept", ""))
                self._send(status, content_type, body)

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except ConnectionError:
                    pass  # the client went away mid-answer (a scraper stopping): nothing left to tell it

            def log_message(self, *args: object) -> None:
                pass  # one line per request would be per-scrape noise

        self._registry = registry
        self._build_report = report
        self._ready = ready
        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise OSError(
                f"cannot listen on {host or '0.0.0.0'}:{port} (HTTP): {exc.strerror or exc}"
            ) from None
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)

    def start(self) -> int:
        self._thread.start()
        return self.port

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop serving and close the socket; safe before start() and when called twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=timeout_s)
        self._server.server_close()

    def _metrics(self, _query: str, accept: str) -> tuple[int, str, bytes]:
        encoder, content_type = choose_encoder(accept)
        return 200, content_type, encoder(self._registry)

    def _healthz(self, _query: str, _accept: str) -> tuple[int, str, bytes]:
        return 200, "text/plain; charset=utf-8", b"ok\n"

    def _readyz(self, _query: str, _accept: str) -> tuple[int, str, bytes]:
        if self._ready():
            return 200, "text/plain; charset=utf-8", b"ready\n"
        return 503, "text/plain; charset=utf-8", b"not ready: starting or shutting down\n"

    def _report(self, query: str, _accept: str) -> tuple[int, str, bytes]:
        try:
            asked = report_query(query)
        except UsageError as exc:
            return status_of(exc).http, "application/json", dumps({"error": str(exc)})
        report = self._build_report(
            window_ns=asked.window_ns, sections=asked.sections, top=asked.top, rules=asked.rules
        )
        return 200, "application/json", dumps_indented(report)
