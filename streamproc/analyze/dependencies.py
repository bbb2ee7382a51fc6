"""Service dependencies: edges between services (and uninstrumented peers), per-service call statistics.

* A CLIENT/PRODUCER span paired with a SERVER/CONSUMER child in another service is one call on the edge
  client service -> server service; it failed when either side errors.
* A CLIENT/PRODUCER span with no SERVER/CONSUMER child is a call to a virtual node named by the first of
  peer.service, db.name, db.system, server.address, net.peer.name, rpc.service (none: no edge).
* Where neither side of a parent/child pair has a kind (UNSPECIFIED or INTERNAL) and their services differ,
  the pair is an edge of its own ("inferred").
* A service's calls are its SERVER spans and its root spans; virtual nodes are not services.

connection_type is one of: request (client/server), messaging_system (producer/consumer, or a virtual node
named by a messaging system), database (a virtual node with db.* attributes), virtual_node, inferred.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from streamproc.analyze.schema import Dependencies
from streamproc.analyze.stats import pct
from streamproc.analyze.tree import TraceTree
from streamproc.model import Span, SpanKind
from streamproc.units import NS_PER_MS

_CALLERS = (SpanKind.CLIENT, SpanKind.PRODUCER)
_CALLEES = (SpanKind.SERVER, SpanKind.CONSUMER)
_KINDLESS = (SpanKind.UNSPECIFIED, SpanKind.INTERNAL)

EdgeKey = tuple[str, str, str]  # parent, child, connection type


@dataclass(slots=True)
class EdgeStats:
    calls: int = 0
    errors: int = 0
    client_ns: int = 0
    server_ns: int = 0


@dataclass(slots=True)
class ServiceCalls:
    calls: int = 0
    errors: int = 0
    duration_ns: int = 0


class Call(NamedTuple):
    """One RPC (or inferred call) found in a trace; the live path turns these into service-graph metrics."""

    parent: str
    child: str
    connection_type: str
    failed: bool
    client_ns: int
    server_ns: int


def virtual_peer(span: Span) -> tuple[str, str] | None:
    """The name and connection type of the uninstrumented peer a CLIENT/PRODUCER span called."""
    a = span.attributes
    for name, kind in (
        (a.peer_service, None),
        (a.db_name, "database"),
        (a.db_system, "database"),
        (a.server_address, None),
        (a.net_peer_name, None),
        (a.rpc_service, None),
    ):
        if name:
            if kind is not None:
                return name, kind
            fallback = (
                "database" if a.db_system else "messaging_system" if a.messaging_system else "virtual_node"
            )
            return name, fallback
    return None


def find_calls(tree: TraceTree) -> list[Call]:
    spans = tree.spans
    calls = []
    for index, span in enumerate(spans):
        kids = tree.children[index]
        if span.kind in _CALLERS:
            paired = False
            for child in kids:
                callee = spans[child]
                if callee.kind not in _CALLEES:
                    continue
                paired = True
                if callee.service != span.service:
                    kind = "request" if callee.kind is SpanKind.SERVER else "messaging_system"
                    calls.append(
                        Call(
                            span.service,
                            callee.service,
                            kind,
                            span.is_error or callee.is_error,
                            span.duration_ns,
                            callee.duration_ns,
                        )
                    )
            peer = None if paired else virtual_peer(span)
            if peer is not None:
                calls.append(Call(span.service, peer[0], peer[1], span.is_error, span.duration_ns, 0))
        elif span.kind in _KINDLESS:
            for child in kids:
                other = spans[child]
                if other.kind in _KINDLESS and other.service != span.service:
                    calls.append(
                        Call(
                            span.service,
                            other.service,
                            "inferred",
                            span.is_error or other.is_error,
                            span.duration_ns,
                            other.duration_ns,
                        )
                    )
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
        roots = set(tree.roots)
        for index, span in enumerate(tree.spans):
            service = self.services.get(span.service)
            if service is None:
                service = self.services[span.service] = ServiceCalls()
            if span.kind is SpanKind.SERVER or index in roots:
                service.calls += 1
                service.errors += span.is_error
                service.duration_ns += span.end_ns - span.start_ns

    def merge(self, other: DependencyAnalyzer) -> None:
        for key, edge in other.edges.items():
            mine = self.edges.setdefault(key, EdgeStats())
            mine.calls += edge.calls
            mine.errors += edge.errors
            mine.client_ns += edge.client_ns
            mine.server_ns += edge.server_ns
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
                }
                for (parent, child, kind), edge in ranked
            ],
        }
