"""HTTP endpoints (an adapter): /metrics, /healthz, /readyz, /api/report and /report (the same report as
a self-contained HTML page: reload to refresh) on a stdlib threading server.

/metrics negotiates the Prometheus text format or OpenMetrics (which carries exemplars) from the Accept
header, as client_python's own handler does. /api/report takes the CLI's section and filter flags as query
parameters: window (default 15m), bottlenecks, critical_path, errors, dependencies, top, service,
errors_only, latency_threshold, bottleneck sections absent unless asked (none asked: all); /report takes
the same.
"""

from __future__ import annotations

import hmac
import math
import re
import ssl
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from streamproc.analyze.filters import TraceFilter
from streamproc.analyze.schema import Report
from streamproc.analyze.suite import ALL_SECTIONS, Section
from streamproc.errors import UsageError
from streamproc.jsonio import dumps, dumps_indented
from streamproc.live.httpserver import IDLE_TIMEOUT_S, MAX_CONNECTIONS, HttpListener
from streamproc.live.jaeger_api import JaegerApi
from streamproc.live.status import status_of
from streamproc.report.table import duration_text
from streamproc.units import parse_duration_s, quoted, seconds_to_ns

_TRUE = ("1", "true", "yes", "")
_OPEN_PATHS = ("/healthz", "/readyz")  # probes need no token
_TOP = re.compile(r"[0-9]{1,6}")  # ASCII digits only: `top=²` is not a number
_SECTION_PARAMS = {
    "bottlenecks": Section.BOTTLENECKS,
    "critical_path": Section.CRITICAL_PATH,
    "critical-path": Section.CRITICAL_PATH,
    "errors": Section.ERRORS,
    "dependencies": Section.DEPENDENCIES,
    "insights": Section.INSIGHTS,
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
    if window_s <= 0:
        raise UsageError("window must be positive")
    top_text = one("top") or "10"
    if not _TOP.fullmatch(top_text) or int(top_text) < 1:
        raise UsageError(f"top: {quoted(top_text)} is not a whole number from 1 to 999,999")
    latency = one("latency_threshold")
    try:
        latency_ms = float(latency) if latency is not None else None
    except ValueError:
        raise UsageError(f"latency_threshold: {quoted(latency)} is not a number") from None
    if latency_ms is not None and not math.isfinite(latency_ms):
        raise UsageError(f"latency_threshold: {quoted(latency)} is not a finite number")
    sections = frozenset(s for name, s in _SECTION_PARAMS.items() if name in params and one(name) in _TRUE)
    errors_only = one("errors_only")
    rules = TraceFilter(
        service=one("service"),
        latency_threshold_ms=latency_ms,
        errors_only=errors_only is not None and errors_only in _TRUE,
    )
    problems = [p.replace("--latency-threshold", "latency_threshold") for p in rules.problems()]
    if problems:
        raise UsageError("; ".join(problems))
    return ReportQuery(seconds_to_ns(window_s), sections or ALL_SECTIONS, int(top_text), rules)


@dataclass(frozen=True, slots=True)
class DiagnoseQuery:
    window_ns: int
    baseline_ns: int
    service: str | None


def diagnose_query(query: str) -> DiagnoseQuery:
    """Parse /api/diagnose's query string (window, default 5m; baseline, default 1h; service)."""
    params = urllib.parse.parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(params) - {"window", "baseline", "service"})
    if unknown:
        raise UsageError(f"unknown parameter(s): {', '.join(unknown)}")
    window_s = parse_duration_s(params.get("window", ["5m"])[-1], "window")
    baseline_s = parse_duration_s(params.get("baseline", ["1h"])[-1], "baseline")
    if window_s <= 0 or baseline_s <= 0:
        raise UsageError("window and baseline must be positive")
    service = params.get("service", [""])[-1] or None
    return DiagnoseQuery(seconds_to_ns(window_s), seconds_to_ns(baseline_s), service)


class DiagnoseSource(Protocol):
    def __call__(self, *, window_ns: int, baseline_ns: int, service: str | None = None) -> Any: ...


class HttpEndpoints:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        registry: CollectorRegistry,
        report: ReportSource,
        ready: Callable[[], bool],
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        tls: ssl.SSLContext | None = None,
        bearer_token: str = "",
        auth_failed: Callable[[], None] = lambda: None,
        jaeger: JaegerApi | None = None,
        diagnose: DiagnoseSource | None = None,
    ) -> None:
        endpoints = self
        token = f"Bearer {bearer_token}" if bearer_token else ""

        class Handler(BaseHTTPRequestHandler):
            server_version = "streamproc"
            timeout = idle_timeout_s  # on the socket: an idle or slow client is dropped after this

            def do_HEAD(self) -> None:
                self.do_GET(head=True)

            def do_GET(self, head: bool = False) -> None:
                url = urllib.parse.urlsplit(self.path)
                route = {
                    "/metrics": endpoints._metrics,
                    "/healthz": endpoints._healthz,
                    "/readyz": endpoints._readyz,
                    "/api/report": endpoints._report,
                    "/api/diagnose": endpoints._diagnose,
                    "/report": endpoints._report_page,
                }.get(url.path)
                if token and url.path not in _OPEN_PATHS:
                    given = self.headers.get("Authorization", "")
                    if not hmac.compare_digest(given, token):
                        auth_failed()
                        self._send(
                            401, "application/json", dumps({"error": "missing or wrong bearer token"}), head
                        )
                        return
                if route is None and jaeger is not None and jaeger.handles(url.path):
                    self._send(*jaeger.answer(url.path, url.query), head)
                    return
                if route is None:
                    self._send(
                        404,
                        "text/plain; charset=utf-8",
                        b"not found: try /metrics, /healthz, /readyz, /api/report, /report, /api/services, "
                        b"/api/traces\n",
                        head,
                    )
                    return
                status, content_type, body = route(url.query, self.headers.get("Accept", ""))
                self._send(status, content_type, body, head)

            def _send(self, status: int, content_type: str, body: bytes, head: bool) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    if status == 401:
                        self.send_header("WWW-Authenticate", "Bearer")
                    self.end_headers()
                    if not head:
                        self.wfile.write(body)
                except ConnectionError:
                    pass  # the client went away mid-answer (a scraper stopping): nothing left to tell it

            def log_message(self, *args: object) -> None:
                pass  # one line per request would be per-scrape noise

        self._registry = registry
        self._build_report = report
        self._diagnose_source = diagnose
        self._ready = ready
        self._listener = HttpListener(
            host, port, Handler, what="HTTP", max_connections=max_connections, tls=tls
        )
        self.port = self._listener.port

    def start(self) -> int:
        return self._listener.start()

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop serving and close the socket; safe before start() and when called twice."""
        self._listener.shutdown(timeout_s)

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
        return 200, "application/json", dumps_indented(self._answer(asked))

    def _diagnose(self, query: str, _accept: str) -> tuple[int, str, bytes]:
        if self._diagnose_source is None:
            return 404, "application/json", dumps({"error": "no diagnosis here"})
        try:
            asked = diagnose_query(query)
        except UsageError as exc:
            return status_of(exc).http, "application/json", dumps({"error": str(exc)})
        answer = self._diagnose_source(
            window_ns=asked.window_ns, baseline_ns=asked.baseline_ns, service=asked.service
        )
        return 200, "application/json", dumps_indented(answer)

    def _report_page(self, query: str, _accept: str) -> tuple[int, str, bytes]:
        try:
            asked = report_query(query)
        except UsageError as exc:
            return status_of(exc).http, "text/plain; charset=utf-8", f"bad request: {exc}\n".encode()
        from streamproc.report.html import render_html  # the page's modules load on its first request

        report = self._answer(asked)
        window = report.get("window")
        subtitle = "reload the page to refresh"
        if window is not None:
            subtitle = (
                f"The last {duration_text(window['seconds'] * 1000)}: {window['start']} to "
                f"{window['end']}; reload the page to refresh."
            )
        page = render_html(report, title="streamproc live report", subtitle=subtitle)
        return 200, "text/html; charset=utf-8", page.encode()

    def _answer(self, asked: ReportQuery) -> Report:
        return self._build_report(
            window_ns=asked.window_ns, sections=asked.sections, top=asked.top, rules=asked.rules
        )
