"""Service dependencies: edges between services (and uninstrumented peers), per-service call statistics.

* Every parent -> child span pair whose services differ is one call on the edge parent service -> child
  service, whatever the kinds (CLIENT->SERVER, SERVER->SERVER, INTERNAL->SERVER, PRODUCER->CONSUMER,
  PRODUCER->CLIENT ...); it failed when either side errors.
* A CLIENT/PRODUCER span with no child in another service is a call to a virtual node named by the first
  of peer.service, db.name, db.system, server.address, net.peer.name, rpc.service (none: no edge).
* A service's calls are its SERVER, CONSUMER and root spans (each span once); virtual nodes are not
  services.

connection_type, as the Collector's servicegraph connector names them: messaging_system where either side
is a PRODUCER or CONSUMER, database for a virtual node the span's db.* attributes describe, virtual_node
for other virtual nodes, and empty otherwise.

An edge's p95 is of its calls as the caller saw them (the parent span's duration: the callee's work plus
the network and queueing between them), from a logarithmic grid, within 6 % (`analyze.histogram`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from streamproc.analyze.histogram import EDGE_PER_DECADE, add_counts, grid_index, quantile_ms
from streamproc.analyze.schema import Dependencies
from streamproc.analyze.stats import pct
from streamproc.analyze.tree import TraceTree
from streamproc.model import Span, SpanKind, StatusCode, new_tuple
from streamproc.units import NS_PER_MS

_CALLERS = (SpanKind.CLIENT, SpanKind.PRODUCER)
_MESSAGING = (SpanKind.PRODUCER, SpanKind.CONSUMER)
_ENTRIES = (SpanKind.SERVER, SpanKind.CONSUMER)

EdgeKey = tuple[str, str, str]  # parent, child, connection type


@dataclass(slots=True)
class EdgeStats:
    calls: int = 0
    errors: int = 0
    client_ns: int = 0
    server_ns: int = 0
    latency: dict[int, int] = field(default_factory=dict)  # the caller's durations, on the edge grid


@dataclass(slots=True)
class ServiceCalls:
    calls: int = 0
    errors: int = 0
    duration_ns: int = 0


class Call(NamedTuple):
    """One call between services found in a trace; the live path turns these into service-graph metrics."""

    parent: str
    child: str
    connection_type: str
    failed: bool
    client_ns: int
    server_ns: int


def virtual_peer(span: Span) -> tuple[str, str] | None:
    """The name and connection type of the uninstrumented peer a CLIENT/PRODUCER span called."""
    a = span.attributes
    name = a.peer_service or a.db_name or a.db_system or a.server_address or a.net_peer_name or a.rpc_service
    if not name:
        return None
    if span.kind is SpanKind.PRODUCER:
        return name, "messaging_system"
    return name, "database" if a.db_system or a.db_name else "virtual_node"


def find_calls(tree: TraceTree) -> list[Call]:
    """Every call between services in the trace: one per parent/child pair across services, and one per
    CLIENT/PRODUCER span to the uninstrumented peer it names when no child of it is in another service."""
    spans = tree.spans
    calls = []
    for index, span in enumerate(spans):
        crossed = False
        for child in tree.children[index]:
            callee = spans[child]
            if callee.service == span.service:
                continue
            crossed = True
            messaging = span.kind in _MESSAGING or callee.kind in _MESSAGING
            failed = span.status is StatusCode.ERROR or callee.status is StatusCode.ERROR
            calls.append(
                new_tuple(
                    Call,
                    (
                        span.service,
                        callee.service,
                        "messaging_system" if messaging else "",
                        failed,
                        span.end_ns - span.start_ns,
                        callee.end_ns - callee.start_ns,
                    ),
                )
            )
        if not crossed and span.kind in _CALLERS:
            peer = virtual_peer(span)
            if peer is not None:
                failed = span.status is StatusCode.ERROR
                call = (span.service, peer[0], peer[1], failed, span.end_ns - span.start_ns, 0)
                calls.append(new_tuple(Call, call))
    return calls


class DependencyAnalyzer:
    def __init__(self) -> None:
        self.edges: dict[EdgeKey, EdgeStats] = {}
        self.services: dict[str, ServiceCalls] = {}

    def observe(self, tree: TraceTree, calls: list[Call]) -> None:
        for call in calls:
            key = (call.parent, call.child, call.connection_type)
            edge = self.edges.get(key)
            if edge is None:
                edge = self.edges[key] = EdgeStats()
            edge.calls += 1
            edge.errors += call.failed
            edge.client_ns += call.client_ns
            edge.server_ns += call.server_ns
            index = grid_index(call.client_ns, EDGE_PER_DECADE)
            edge.latency[index] = edge.latency.get(index, 0) + 1
        roots = tree.roots  # a tuple of one root, nearly always: no set to build
        services = self.services
        for index, span in enumerate(tree.spans):
            service = services.get(span.service)
            if service is None:
                service = services[span.service] = ServiceCalls()
            if span.kind in _ENTRIES or index in roots:
                service.calls += 1
                service.errors += span.status is StatusCode.ERROR
                service.duration_ns += span.end_ns - span.start_ns

    def merge(self, other: DependencyAnalyzer) -> None:
        for key, edge in other.edges.items():
            mine = self.edges.setdefault(key, EdgeStats())
            mine.calls += edge.calls
            mine.errors += edge.errors
            mine.client_ns += edge.client_ns
            mine.server_ns += edge.server_ns
            add_counts(mine.latency, edge.latency)
        for name, service in other.services.items():
            calls = self.services.setdefault(name, ServiceCalls())
            calls.calls += service.calls
            calls.errors += service.errors
            calls.duration_ns += service.duration_ns

    def report(self) -> Dependencies:
        ranked = sorted(self.edges.items(), key=lambda item: (-item[1].calls, item[0]))
        graph: dict[str, dict[str, int]] = {}
        for (parent, child, _kind), edge in sorted(self.edges.items()):
            children = graph.setdefault(parent, {})
            children[child] = children.get(child, 0) + edge.calls
        return {
            "services": {
                name: {
                    "call_count": s.calls,
                    "avg_duration_ms": round(s.duration_ns / s.calls / NS_PER_MS, 3) if s.calls else 0.0,
                    "error_rate": pct(s.errors, s.calls),
                }
                for name, s in sorted(self.services.items())
            },
            "dependencies": graph,
            "edges": [
                {
                    "parent": parent,
                    "child": child,
                    "call_count": edge.calls,
                    "error_count": edge.errors,
                    "connection_type": kind,
                    "p95_ms": quantile_ms(edge.latency, 0.95, EDGE_PER_DECADE),
                }
                for (parent, child, kind), edge in ranked
            ],
        }
