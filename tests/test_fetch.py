"""--jaeger-url: querying a Jaeger query service over HTTP (a local server speaking Jaeger's API)."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec
import pytest

from streamproc.decode import Format
from streamproc.tools.encode import encode, otlp_document
from streamproc.tools.generate import Scenario
from tests.cli import run


class FakeJaeger:
    """A stand-in for jaeger-query on a real loopback port: v1 (/api/traces), v3 only, or failing."""

    def __init__(self, traces, mode: str) -> None:
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        jaeger_body = encode(traces, Format.JAEGER)
        v3_body = msgspec.json.encode({"result": otlp_document([s for t in traces for s in t.spans])})
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                fake.requests.append((url.path, urllib.parse.parse_qs(url.query)))
                if mode == "broken":
                    self._answer(500, b'{"errors": [{"code": 500, "msg": "storage down"}]}')
                elif url.path == "/api/traces" and mode == "v1":
                    self._answer(200, jaeger_body)
                elif url.path == "/api/v3/traces" and mode == "v3":
                    self._answer(200, v3_body)
                else:
                    self._answer(404, b"404 page not found")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jaeger(scenario_traces) -> Iterator[Callable[[str], FakeJaeger]]:
    servers: list[FakeJaeger] = []

    def start(mode: str) -> FakeJaeger:
        servers.append(FakeJaeger(scenario_traces[Scenario.INCIDENT][:50], mode))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def fetch(capsys, server, saved):
    return run(
        capsys,
        "--jaeger-url",
        server.url,
        "--service",
        "api-gateway",
        "--lookback",
        "2h",
        "--limit",
        "50",
        "--save",
        saved,
        "--json",
    )


def test_fetch_from_the_query_api_analyzes_and_saves(capsys, tmp_path, jaeger):
    """/api/traces is searched by service, time window and limit; --save keeps the raw answer."""
    server, saved = jaeger("v1"), tmp_path / "fetched.json"
    code, out, err = fetch(capsys, server, saved)
    assert code == 0, err
    assert msgspec.json.decode(out)["summary"]["trace_count"] == 50
    ((path, query),) = server.requests
    assert path == "/api/traces"
    assert (query["service"], query["limit"]) == (["api-gateway"], ["50"])
    assert int(query["end"][0]) - int(query["start"][0]) == 2 * 3600 * 10**6
    assert run(capsys, saved, "--json", "--service", "api-gateway")[:2] == (0, out)


def test_fetch_falls_back_to_api_v3(capsys, tmp_path, jaeger):
    """Where /api/traces is gone (404), /api/v3/traces is queried and its OTLP answer analyzed."""
    server, saved = jaeger("v3"), tmp_path / "fetched.json"
    code, out, err = fetch(capsys, server, saved)
    assert code == 0, err
    assert msgspec.json.decode(out)["summary"]["trace_count"] == 50
    assert [path for path, _ in server.requests] == ["/api/traces", "/api/v3/traces"]
    query = server.requests[1][1]
    assert (query["query.service_name"], query["query.search_depth"]) == (["api-gateway"], ["50"])
    assert run(capsys, saved, "--json", "--service", "api-gateway")[:2] == (0, out)


def test_jaeger_error_is_reported_not_analyzed(capsys, tmp_path, jaeger):
    """An HTTP 500 from Jaeger: exit 1, the status and Jaeger's message, nothing saved."""
    saved = tmp_path / "fetched.json"
    code, out, err = fetch(capsys, jaeger("broken"), saved)
    assert (code, out) == (1, "")
    assert "Jaeger answered HTTP 500" in err and "storage down" in err
    assert not saved.exists()


def test_unreachable_jaeger_is_one_clear_error(capsys):
    """Nothing listening: exit 1 and a message naming the URL."""
    code, out, err = run(capsys, "--jaeger-url", "http://127.0.0.1:9", "--service", "x")
    assert (code, out) == (1, "")
    assert err.startswith("analyze-traces: error: http://127.0.0.1:9: cannot reach Jaeger")
