"""Fetching traces from a running Jaeger over its HTTP API (an adapter: network I/O lives here).

The query service's `/api/traces` search answers Jaeger JSON (`{"data": [...]}`); where that endpoint is
gone (Jaeger v2 without the legacy API), `/api/v3/traces` answers OTLP JSON wrapped as `{"result": ...}`,
which the decoder reads as it is.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from streamproc.errors import FetchError
from streamproc.units import US_PER_S, rfc3339_s


@dataclass(frozen=True, slots=True, kw_only=True)
class JaegerQuery:
    url: str  # the query service's base URL, e.g. http://jaeger:16686
    service: str
    lookback_s: float
    limit: int
    timeout_s: float = 30.0


def fetch_jaeger(query: JaegerQuery, *, now_s: float) -> bytes:
    """The raw response body holding the traces the query found. Raises FetchError."""
    try:
        return _get(_v1_url(query, now_s), query)
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise _http_problem(query.url, exc) from None
    try:
        return _get(_v3_url(query, now_s), query)
    except urllib.error.HTTPError as exc:
        raise _http_problem(query.url, exc) from None


def _v1_url(query: JaegerQuery, now_s: float) -> str:
    end_us = int(now_s * US_PER_S)
    params = {
        "service": query.service,
        "start": end_us - int(query.lookback_s * US_PER_S),
        "end": end_us,
        "limit": query.limit,
    }
    return f"{query.url.rstrip('/')}/api/traces?{urllib.parse.urlencode(params)}"


def _v3_url(query: JaegerQuery, now_s: float) -> str:
    params = {
        "query.service_name": query.service,
        "query.start_time_min": rfc3339_s(now_s - query.lookback_s),
        "query.start_time_max": rfc3339_s(now_s),
        "query.search_depth": query.limit,
    }
    return f"{query.url.rstrip('/')}/api/v3/traces?{urllib.parse.urlencode(params)}"


def _get(url: str, query: JaegerQuery) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=query.timeout_s) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError:
        raise
    except urllib.error.URLError as exc:
        raise FetchError(query.url, f"cannot reach Jaeger: {exc.reason}") from None
    except TimeoutError:
        raise FetchError(query.url, f"Jaeger did not answer within {query.timeout_s:g} s") from None


def _http_problem(source: str, exc: urllib.error.HTTPError) -> FetchError:
    detail = exc.read()[:200].decode("utf-8", "replace").strip()
    return FetchError(
        source, f"Jaeger answered HTTP {exc.code} {exc.reason}" + (f": {detail}" if detail else "")
    )
