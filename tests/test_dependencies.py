"""Service dependencies (DESIGN section 5)."""

from __future__ import annotations

import pytest

from streamproc.model import SpanKind
from tests.builders import span, suite_of, trace, trace_id

CLIENT, SERVER = SpanKind.CLIENT, SpanKind.SERVER


def test_client_server_pair_is_one_call_and_its_error_counts_once():
    """Both sides of one RPC erroring is one failed call, not two."""
    t = trace(
        span(1, 0, 0, 100, service="web", kind=SERVER),
        span(2, 1, 10, 90, service="web", kind=CLIENT, error="502"),
        span(3, 2, 20, 80, service="api", kind=SERVER, error="boom"),
    )
    deps = suite_of(t).report()["dependencies"]
    assert deps["edges"] == [
        {
            "parent": "web",
            "child": "api",
            "call_count": 1,
            "error_count": 1,
            "connection_type": "",
            "p95_ms": pytest.approx(80, rel=0.03),  # the caller's span: 10 to 90 ms
        }
    ]
    assert deps["dependencies"] == {"web": {"api": 1}}


def test_edge_p95_is_of_the_callers_durations_within_3_percent_and_merges():
    """100 calls taking 1 to 100 ms: p95 is about 95 ms (exactly 95.05 by interpolation), from one suite
    or from two that each saw half the calls."""
    traces = [
        trace(
            span(1, 0, 0, 200, service="web", kind=SERVER, trace=trace_id(n)),
            span(2, 1, 0, n, service="web", kind=CLIENT, trace=trace_id(n)),
            span(3, 2, 0, n / 2, service="api", kind=SERVER, trace=trace_id(n)),
        )
        for n in range(1, 101)
    ]
    whole = suite_of(*traces).report()["dependencies"]["edges"][0]
    assert whole["p95_ms"] == pytest.approx(95.05, rel=0.03)
    halves = suite_of(*traces[::2])
    halves.merge(suite_of(*traces[1::2]))
    assert halves.report()["dependencies"]["edges"][0]["p95_ms"] == whole["p95_ms"]


def test_uninstrumented_database_becomes_a_virtual_node():
    """A CLIENT span without a SERVER child is an edge to the peer named by peer.service."""
    t = trace(
        span(1, 0, 0, 100, service="users", kind=SERVER),
        span(2, 1, 10, 90, service="users", kind=CLIENT, peer_service="postgres", db_system="postgresql"),
        span(3, 1, 90, 95, service="users", kind=CLIENT, db_name="orders", db_system="mysql"),
        span(4, 1, 95, 99, service="users", kind=CLIENT),  # names no peer: no edge
    )
    deps = suite_of(t).report()["dependencies"]
    edges = {(e["child"], e["connection_type"]) for e in deps["edges"]}
    assert edges == {("postgres", "database"), ("orders", "database")}
    assert set(deps["services"]) == {"users"}  # virtual nodes are not services


def edges_of(*traces) -> list[tuple[str, str, str, int]]:
    return [
        (e["parent"], e["child"], e["connection_type"], e["call_count"])
        for e in suite_of(*traces).report()["dependencies"]["edges"]
    ]


def test_every_parent_child_pair_across_services_is_an_edge_whatever_the_kinds():
    """SERVER->SERVER, INTERNAL->SERVER, INTERNAL->INTERNAL and CLIENT->INTERNAL pairs across services are
    edges too: kind pairing missed most of them (Jaeger UI's test traces chain SERVER spans directly)."""
    t = trace(
        span(1, 0, 0, 100, service="frontend", kind=SERVER),
        span(2, 1, 5, 90, service="checkout", kind=SERVER),  # SERVER -> SERVER
        span(3, 2, 10, 80, service="checkout"),  # INTERNAL, same service: no edge
        span(4, 3, 15, 70, service="payment", kind=SERVER),  # INTERNAL -> SERVER
        span(5, 4, 20, 60, service="fraud"),  # SERVER -> INTERNAL
        span(6, 5, 25, 50, service="ledger", kind=CLIENT, peer_service="ledger-db"),  # INTERNAL -> CLIENT
    )
    assert edges_of(t) == [
        ("checkout", "payment", "", 1),
        ("fraud", "ledger", "", 1),
        ("frontend", "checkout", "", 1),
        ("ledger", "ledger-db", "virtual_node", 1),
        ("payment", "fraud", "", 1),
    ]


def test_a_client_with_a_child_in_another_service_is_no_virtual_node():
    """A CLIENT span whose children are a same-service tcp.connect and the callee's SERVER span is one call
    to the callee, not also a call to the peer it names (Tempo's servicegraphs testdata
    trace-with-queue-database.json: mythical-requester's `requester` span)."""
    t = trace(
        span(1, 0, 0, 46, service="mythical-requester", name="requester", kind=CLIENT),
        span(2, 1, 0, 1, service="mythical-requester", name="tcp.connect", net_peer_name="mythical-server"),
        span(3, 1, 1, 31, service="mythical-server", name="GET /:endpoint", kind=SERVER),
    )
    assert edges_of(t) == [("mythical-requester", "mythical-server", "", 1)]


def test_messaging_pairs_are_messaging_system_edges_even_without_a_consumer():
    """PRODUCER->CLIENT across services is messaging; an unpaired PRODUCER names its broker."""
    t = trace(
        span(1, 0, 0, 10, service="shop", kind=SpanKind.PRODUCER),
        span(2, 1, 20, 30, service="mailer", kind=CLIENT),
        span(3, 0, 40, 45, service="shop", kind=SpanKind.PRODUCER, peer_service="kafka"),
    )
    assert edges_of(t) == [
        ("shop", "kafka", "messaging_system", 1),
        ("shop", "mailer", "messaging_system", 1),
    ]


def test_service_calls_are_server_consumer_and_root_spans():
    """calls = SERVER and CONSUMER spans plus root spans (a SERVER root once); error rate over those calls."""
    t1 = trace(
        span(1, 0, 0, 100, trace=trace_id(1), service="web", kind=SERVER),
        span(2, 1, 0, 60, trace=trace_id(1), service="web", kind=CLIENT),
        span(3, 2, 10, 50, trace=trace_id(1), service="api", kind=SERVER, error="x"),
    )
    t2 = trace(
        span(1, 0, 0, 200, trace=trace_id(2), service="web", kind=SERVER),
        span(3, 1, 10, 30, trace=trace_id(2), service="api", kind=SERVER),
    )
    services = suite_of(t1, t2).report()["dependencies"]["services"]
    assert services["web"] == {"call_count": 2, "avg_duration_ms": 150.0, "error_rate": 0.0}
    assert services["api"] == {"call_count": 2, "avg_duration_ms": 30.0, "error_rate": 50.0}


def test_producer_consumer_is_a_messaging_edge():
    """PRODUCER -> CONSUMER in another service is a messaging_system edge."""
    t = trace(
        span(1, 0, 0, 10, service="shop", kind=SpanKind.PRODUCER),
        span(2, 1, 20, 30, service="mailer", kind=SpanKind.CONSUMER),
    )
    edges = suite_of(t).report()["dependencies"]["edges"]
    assert [(e["parent"], e["child"], e["connection_type"]) for e in edges] == [
        ("shop", "mailer", "messaging_system")
    ]


def test_consumer_spans_are_calls_of_their_service():
    """A Kafka consumer's erroring CONSUMER spans are its calls and its errors, not 0 calls and 0 %."""
    t = trace(
        span(1, 0, 0, 10, service="shop", kind=SpanKind.PRODUCER),
        span(2, 1, 20, 30, service="billing", kind=SpanKind.CONSUMER, error="bad message"),
        span(3, 1, 20, 32, service="billing", kind=SpanKind.CONSUMER, error="bad message"),
        span(4, 1, 20, 34, service="billing", kind=SpanKind.CONSUMER),
    )
    services = suite_of(t).report()["dependencies"]["services"]
    assert services["billing"] == {"call_count": 3, "avg_duration_ms": 12.0, "error_rate": 66.67}
