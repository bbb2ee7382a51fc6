"""Synthetic traces for demos, tests and benchmarks, from a few named scenarios.

Every scenario is the same small shop: `api-gateway` serves `GET /api/home` by authenticating, then asking
`user-service` (which queries PostgreSQL) and `recommendation-service` (which reads Redis and ranks items)
in parallel, and publishing a page view to Kafka for `analytics-service`.

* healthy:  p95 about 100 ms, errors about 0.1 % (a rare Redis timeout).
* incident: the user query became a slow JOIN (p95 well above 500 ms) and Redis times out in about 4 % of
            requests: recommendation-service propagates the timeout, api-gateway sometimes handles it
            (serves the page without recommendations) and sometimes fails with HTTP 502.
* fixed:    after the fix: the query is indexed again and the timeouts are rare.

Output is a pure function of (scenario, count, seed, start): times are whole microseconds so that every
file format holds them exactly.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from streamproc.model import Span, SpanAttributes, SpanKind, StatusCode, Trace
from streamproc.units import NS_PER_MS, NS_PER_US


class Scenario(enum.Enum):
    HEALTHY = "healthy"
    INCIDENT = "incident"
    FIXED = "fixed"


@dataclass(frozen=True, slots=True)
class _Profile:
    slow_join: bool
    timeout_rate: float


_PROFILES = {
    Scenario.HEALTHY: _Profile(slow_join=False, timeout_rate=0.001),
    Scenario.INCIDENT: _Profile(slow_join=True, timeout_rate=0.04),
    Scenario.FIXED: _Profile(slow_join=False, timeout_rate=0.001),
}

FAST_QUERY = "SELECT u.id, u.name, u.email FROM users u WHERE u.id = {user}"
SLOW_QUERY = (
    "SELECT u.*, o.* FROM users u JOIN orders o ON o.user_id = u.id "
    "WHERE u.id = {user} AND o.status IN ('open', 'paid', 'shipped') ORDER BY o.created_at DESC"
)


class _TraceBuilder:
    def __init__(self, rng: random.Random, trace_id: bytes) -> None:
        self.rng = rng
        self.trace_id = trace_id
        self.spans: list[Span] = []

    def span(  # noqa: PLR0917 - reads like the span it builds; attributes stay keyword-only
        self,
        parent: Span | None,
        service: str,
        name: str,
        kind: SpanKind,
        start_ns: int,
        duration_ns: int,
        *,
        error: str | None = None,
        ok: bool = False,
        **attributes: str,
    ) -> Span:
        span = Span(
            trace_id=self.trace_id,
            span_id=self.rng.randbytes(8),
            parent_span_id=parent.span_id if parent else b"",
            service=service,
            name=name,
            kind=kind,
            start_ns=start_ns,
            end_ns=start_ns + duration_ns,
            status=StatusCode.ERROR if error is not None else StatusCode.OK if ok else StatusCode.UNSET,
            status_message=error or "",
            attributes=SpanAttributes(**attributes),
        )
        self.spans.append(span)
        return span

    def ms(self, low: float, high: float) -> int:
        """A duration between low and high ms, skewed towards low, in whole microseconds."""
        value = low + (high - low) * self.rng.random() ** 2
        return int(value * 1000) * NS_PER_US


def _user_branch(b: _TraceBuilder, gateway: Span, start: int, profile: _Profile) -> int:
    """api-gateway -> user-service -> PostgreSQL; returns when the client call ends."""
    user = b.rng.randint(1000, 99999)
    if profile.slow_join:
        query, db_time = SLOW_QUERY.format(user=user), b.ms(180, 1900)
    else:
        query, db_time = FAST_QUERY.format(user=user), b.ms(3, 25)
    serialize = b.ms(1, 4)
    server_time = 2 * NS_PER_MS + db_time + serialize
    client = b.span(
        gateway,
        "api-gateway",
        "GET user-service",
        SpanKind.CLIENT,
        start,
        server_time + 2 * NS_PER_MS,
        peer_service="user-service",
        http_method="GET",
        http_status_code="200",
    )
    server = b.span(
        client,
        "user-service",
        "GET /users/{id}",
        SpanKind.SERVER,
        start + NS_PER_MS,
        server_time,
        http_route="/users/{id}",
        http_method="GET",
        http_status_code="200",
    )
    b.span(
        server,
        "user-service",
        "database_query",
        SpanKind.CLIENT,
        start + 2 * NS_PER_MS,
        db_time,
        db_system="postgresql",
        db_name="users",
        db_statement=query,
        peer_service="postgres",
    )
    b.span(
        server,
        "user-service",
        "serialize_user",
        SpanKind.INTERNAL,
        start + 2 * NS_PER_MS + db_time,
        serialize,
    )
    return client.end_ns


def _recommendation_branch(b: _TraceBuilder, gateway: Span, start: int, timeout: bool) -> tuple[int, bool]:
    """api-gateway -> recommendation-service -> Redis; returns (client end, whether the call failed)."""
    cache_time = 250 * NS_PER_MS if timeout else b.ms(0.5, 3)
    rank_time = 0 if timeout else b.ms(20, 110)
    server_time = NS_PER_MS + cache_time + rank_time + NS_PER_MS
    client_error = "HTTP 504 from recommendation-service" if timeout else None
    status = "504" if timeout else "200"
    client = b.span(
        gateway,
        "api-gateway",
        "GET recommendation-service",
        SpanKind.CLIENT,
        start,
        server_time + 2 * NS_PER_MS,
        error=client_error,
        peer_service="recommendation-service",
        http_method="GET",
        http_status_code=status,
    )
    server = b.span(
        client,
        "recommendation-service",
        "GET /recommendations",
        SpanKind.SERVER,
        start + NS_PER_MS,
        server_time,
        error="upstream timeout: redis did not answer" if timeout else None,
        http_route="/recommendations",
        http_method="GET",
        http_status_code=status,
    )
    b.span(
        server,
        "recommendation-service",
        "cache_get",
        SpanKind.CLIENT,
        start + 2 * NS_PER_MS,
        cache_time,
        error=f"timeout after {cache_time // NS_PER_MS}ms reading key 'recs:{b.rng.randint(1, 10**6)}'"
        if timeout
        else None,
        db_system="redis",
        peer_service="redis",
    )
    if not timeout:
        b.span(
            server,
            "recommendation-service",
            "rank_items",
            SpanKind.INTERNAL,
            start + 2 * NS_PER_MS + cache_time,
            rank_time,
        )
    return client.end_ns, timeout


def generate_trace(rng: random.Random, scenario: Scenario, start_ns: int) -> Trace:
    """One trace of `scenario` starting at `start_ns`, drawn from `rng`."""
    profile = _PROFILES[scenario]
    b = _TraceBuilder(rng, rng.randbytes(16))
    auth = b.ms(1, 5)
    timeout = rng.random() < profile.timeout_rate
    # Build children first (their ends decide the root's duration), then the root, then reorder.
    root_id = rng.randbytes(8)
    gateway = Span(
        b.trace_id, root_id, b"", "api-gateway", "GET /api/home", SpanKind.SERVER, start_ns, start_ns
    )
    b.span(gateway, "api-gateway", "authenticate", SpanKind.INTERNAL, start_ns + NS_PER_MS, auth)
    calls_start = start_ns + NS_PER_MS + auth
    producer = b.span(
        gateway,
        "api-gateway",
        "page_view publish",
        SpanKind.PRODUCER,
        calls_start,
        b.ms(0.2, 1),
        messaging_system="kafka",
        peer_service="kafka",
    )
    b.span(
        producer,
        "analytics-service",
        "page_view process",
        SpanKind.CONSUMER,
        producer.end_ns + 2 * NS_PER_MS,
        b.ms(1, 4),
        messaging_system="kafka",
    )
    user_end = _user_branch(b, gateway, calls_start, profile)
    recs_end, failed = _recommendation_branch(b, gateway, calls_start, timeout)
    end = max(user_end, recs_end, b.spans[-1].end_ns) + b.ms(1, 3)
    propagate = failed and rng.random() < 0.5
    root = gateway._replace(
        end_ns=end,
        status=StatusCode.ERROR if propagate else StatusCode.UNSET,
        status_message="HTTP 502: recommendations unavailable" if propagate else "",
        attributes=SpanAttributes(
            http_route="/api/home", http_method="GET", http_status_code="502" if propagate else "200"
        ),
    )
    return Trace(b.trace_id, (root, *b.spans))


def generate(scenario: Scenario, *, count: int, seed: int, start_ns: int, window_ns: int) -> list[Trace]:
    """`count` traces of a scenario, their starts spread evenly (with jitter) over `window_ns`."""
    rng = random.Random(f"{scenario.value}:{seed}")
    step = window_ns // max(count, 1)
    traces = []
    for number in range(count):
        jitter = int(rng.random() * step) // NS_PER_US * NS_PER_US
        traces.append(
            generate_trace(rng, scenario, start_ns + number * step // NS_PER_US * NS_PER_US + jitter)
        )
    return traces
