"""Service dependencies (DESIGN section 5)."""

from __future__ import annotations

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
        {"parent": "web", "child": "api", "call_count": 1, "error_count": 1, "connection_type": "request"}
    ]
    assert deps["dependencies"] == {"web": {"api": 1}}


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


def test_kindless_spans_across_services_are_inferred_edges():
    """INTERNAL/UNSPECIFIED parent and child in different services form an edge."""
    t = trace(span(1, 0, 0, 100, service="a"), span(2, 1, 0, 50, service="b", kind=SpanKind.UNSPECIFIED))
    deps = suite_of(t).report()["dependencies"]
    assert [(e["parent"], e["child"], e["connection_type"]) for e in deps["edges"]] == [
        ("a", "b", "inferred")
    ]


def test_service_calls_are_server_and_root_spans():
    """calls = SERVER spans plus root spans (a SERVER root once); error rate over those calls."""
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
