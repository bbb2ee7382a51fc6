"""The service map of the HTML report: services and virtual nodes laid out in layers, left to right from the
entry services, edges as arrows whose width grows with calls and whose colour and dash show the error rate,
each labelled with its calls, p95 and errors in text.

The layered (Sugiyama) layout comes from grandalf: ranking with cycles broken, dummy vertices for edges that
span layers, crossing reduction and coordinate assignment, which hand-written code would do worse. It lays
layers top to bottom; the map turns it a quarter so the entry services are on the left.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from html import escape

from streamproc.analyze.schema import Dependencies
from streamproc.report.svg import CHAR_PX, px, svg, text
from streamproc.report.table import duration_text, shorten

NODE_H = 40.0
LAYER_GAP = 180.0  # between layers: room for an edge's label
NODE_GAP = 26.0
MARGIN = 16.0
NAME_CHARS = 30
MAX_NODES = 80  # beyond this a map is a hairball: the busiest are drawn, the rest counted


@dataclass(slots=True)
class _Node:
    name: str
    virtual: bool
    calls: int
    error_rate: float
    width: float
    x: float = 0.0
    y: float = 0.0


@dataclass(slots=True)
class _Edge:
    parent: str
    child: str
    calls: int
    errors: int
    p95_ms: float
    kinds: set[str] = field(default_factory=set)
    points: list[tuple[float, float]] = field(default_factory=list)


class _View:
    """What grandalf reads and writes on a vertex (`w`, `h`, `xy`) or an edge (`setpath`)."""

    def __init__(self, w: float = 0.0, h: float = 0.0) -> None:
        self.w, self.h = w, h
        self.xy: tuple[float, float] = (0.0, 0.0)
        self.points: list[tuple[float, float]] = []

    def setpath(self, points: list[tuple[float, float]]) -> None:
        self.points = points


def error_class(rate_pct: float) -> str:
    """ok under 1 %, warn under 5 %, bad from 5 %: the thresholds an SRE would page on."""
    return "ok" if rate_pct < 1 else "warn" if rate_pct < 5 else "bad"


def _graph(deps: Dependencies) -> tuple[dict[str, _Node], dict[tuple[str, str], _Edge]]:
    nodes: dict[str, _Node] = {}
    for name, calls in deps["services"].items():
        nodes[name] = _Node(name, False, calls["call_count"], calls["error_rate"], 0.0)
    edges: dict[tuple[str, str], _Edge] = {}
    for edge in deps["edges"]:  # most calls first: the p95 of merged kinds is the busiest one's
        key = (edge["parent"], edge["child"])
        merged = edges.get(key)
        if merged is None:
            merged = edges[key] = _Edge(edge["parent"], edge["child"], 0, 0, edge["p95_ms"])
        merged.calls += edge["call_count"]
        merged.errors += edge["error_count"]
        merged.kinds.add(edge["connection_type"] or "call")
        for name in key:
            if name not in nodes:
                nodes[name] = _Node(name, True, 0, 0.0, 0.0)
    for node in nodes.values():
        if node.virtual:
            node.calls = sum(e.calls for e in edges.values() if e.child == node.name)
            failed = sum(e.errors for e in edges.values() if e.child == node.name)
            node.error_rate = round(failed * 100 / node.calls, 2) if node.calls else 0.0
        node.width = max(len(shorten(node.name, NAME_CHARS)), len(_node_note(node))) * CHAR_PX + 20
    if len(nodes) > MAX_NODES:
        kept = sorted(nodes.values(), key=lambda n: (-n.calls, n.name))[:MAX_NODES]
        nodes = {n.name: n for n in kept}
        edges = {key: e for key, e in edges.items() if key[0] in nodes and key[1] in nodes}
    return nodes, edges


def _node_note(node: _Node) -> str:
    kind = "peer · " if node.virtual else ""
    return f"{kind}{node.calls:,} calls · {node.error_rate:.1f} % err"


def _layout(nodes: dict[str, _Node], edges: dict[tuple[str, str], _Edge]) -> tuple[float, float]:
    """Positions every node (its centre) and edge route; returns the drawing's width and height."""
    from grandalf.graphs import Edge, Graph, Vertex
    from grandalf.layouts import SugiyamaLayout

    vertices = {name: Vertex(name) for name in sorted(nodes)}
    for name, vertex in vertices.items():
        vertex.view = _View(NODE_H, nodes[name].width)  # turned a quarter: height along the layer
    links = []
    for key in sorted(edges):
        link = Edge(vertices[key[0]], vertices[key[1]], data=key)
        link.view = _View()
        links.append(link)
    graph = Graph(list(vertices.values()), links)
    offset, width = MARGIN, 0.0
    for component in sorted(graph.C, key=lambda c: -len(c.sV)):
        layout = SugiyamaLayout(component)
        layout.xspace, layout.yspace = NODE_GAP, LAYER_GAP
        entries = [v for v in component.sV if not v.e_in()]
        if not entries:  # every service is called by another (a cycle): start from the busiest
            entries = [max(component.sV, key=lambda v: (nodes[v.data].calls, v.data))]
        layout.init_all(roots=entries)
        layout.draw(3)
        placed = [(nodes[v.data], v.view.xy) for v in component.sV]
        low_x = min(xy[1] - n.width / 2 for n, xy in placed)
        low_y = min(xy[0] - NODE_H / 2 for n, xy in placed)
        high_y = max(xy[0] + NODE_H / 2 for n, xy in placed)
        for node, (across, along) in placed:
            node.x, node.y = MARGIN + along - low_x, offset + across - low_y
            width = max(width, node.x + node.width / 2 + MARGIN)
        for link in component.sE:
            edge = edges[link.data]
            edge.points = [(MARGIN + b - low_x, offset + a - low_y) for a, b in link.view.points]
            if edge.points and _distance(edge.points[0], (nodes[edge.parent].x, nodes[edge.parent].y)) > 1:
                edge.points.reverse()  # an edge turned round to break a cycle: routed child to parent
        offset += high_y - low_y + 2 * NODE_GAP
    return width, offset - 2 * NODE_GAP + MARGIN


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _along(points: list[tuple[float, float]], fraction: float) -> tuple[float, float]:
    """The point `fraction` of the way along a polyline."""
    lengths = [_distance(a, b) for a, b in itertools.pairwise(points)]
    left = sum(lengths) * fraction
    for (a, b), length in zip(itertools.pairwise(points), lengths, strict=True):
        if left <= length and length:
            return a[0] + (b[0] - a[0]) * left / length, a[1] + (b[1] - a[1]) * left / length
        left -= length
    return points[-1]


def _clip(inside: tuple[float, float], outside: tuple[float, float], node: _Node) -> tuple[float, float]:
    """Where the segment from a node's centre towards `outside` leaves the node's box."""
    dx, dy = outside[0] - inside[0], outside[1] - inside[1]
    scale = min(
        (node.width / 2 + 3) / abs(dx) if dx else math.inf,
        (NODE_H / 2 + 3) / abs(dy) if dy else math.inf,
        1.0,
    )
    return inside[0] + dx * scale, inside[1] + dy * scale


def _marker(kind: str) -> str:
    """An arrowhead of fixed size (not scaled by the edge's width) in the edge's colour."""
    return (
        f'<marker id="arrow-{kind}" class="{kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="11" '
        'markerHeight="11" markerUnits="userSpaceOnUse" orient="auto"><path class="arrowhead" '
        'd="M0,0 L10,5 L0,10 z"/></marker>'
    )


def service_map(deps: Dependencies) -> str:
    """The map as an SVG (and a sentence on what it leaves out); a sentence when there is nothing to draw."""
    nodes, edges = _graph(deps)
    if not nodes:
        return "<p>No services.</p>"
    every = {name for e in deps["edges"] for name in (e["parent"], e["child"])} | set(deps["services"])
    left_out = (
        f'<p class="muted">The {MAX_NODES} busiest of {len(every):,} services and peers are drawn.</p>'
        if len(every) > len(nodes)
        else ""
    )
    width, height = _layout(nodes, edges)
    busiest = max((e.calls for e in edges.values()), default=1)
    body = ["<defs>", *(_marker(kind) for kind in ("ok", "warn", "bad")), "</defs>"]
    labels = []
    for edge in sorted(edges.values(), key=lambda e: (e.parent, e.child)):
        points = edge.points
        if len(points) < 2:
            continue
        points = [
            _clip(points[0], points[1], nodes[edge.parent]),
            *points[1:-1],
            _clip(points[-1], points[-2], nodes[edge.child]),
        ]
        rate = edge.errors * 100 / edge.calls if edge.calls else 0.0
        stroke = 1.2 + 5 * math.log1p(edge.calls) / math.log1p(busiest)
        path = " ".join(f"{px(x)},{px(y)}" for x, y in points)
        note = f"{edge.calls:,} calls · p95 {duration_text(edge.p95_ms)} · {rate:.1f} % err"
        kinds = ", ".join(sorted(edge.kinds))
        body.append(
            f'<g class="edge {error_class(rate)}" data-parent="{escape(edge.parent)}" '
            f'data-child="{escape(edge.child)}"><polyline points="{path}" stroke-width="{px(stroke)}" '
            f'marker-end="url(#arrow-{error_class(rate)})"><title>{escape(edge.parent)} → '
            f"{escape(edge.child)} ({escape(kinds)}): {escape(note)}</title></polyline></g>"
        )
        x, y = _along(points, 0.6)  # past the middle: edges fanning out of one node part there
        labels.append(text(x, y - 20, f"{edge.calls:,} calls · {rate:.1f} % err", "edge-label", "middle"))
        labels.append(text(x, y - 8, f"p95 {duration_text(edge.p95_ms)}", "edge-label", "middle"))
    for node in sorted(nodes.values(), key=lambda n: n.name):
        left, top = node.x - node.width / 2, node.y - NODE_H / 2
        cls = f"node {error_class(node.error_rate)}" + (" virtual" if node.virtual else "")
        body.append(
            f'<g class="{cls}" data-service="{escape(node.name)}"><rect x="{px(left)}" y="{px(top)}" '
            f'width="{px(node.width)}" height="{px(NODE_H)}" rx="6"/>'
            + text(node.x, node.y - 3, shorten(node.name, NAME_CHARS), "node-name", "middle")
            + text(node.x, node.y + 13, _node_note(node), "node-note", "middle")
            + f"<title>{escape(node.name)}: {escape(_node_note(node))}</title></g>"
        )
    body += labels  # over the edges and nodes, so no line crosses a label's text
    label = f"Service map: {len(nodes)} services and peers, {len(edges)} edges"
    return svg(width, height, label, body, "map") + left_out
