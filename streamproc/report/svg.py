"""Inline SVG charts for the HTML report: horizontal bars, the latency histogram and trace waterfalls.

Pure functions from report data to SVG text. Colours come from CSS classes (the page's stylesheet sets
them for light and dark), every mark has a text label beside it, and every chart a `<title>` for screen
readers. Numbers are rounded to a tenth of a pixel to keep the page small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import NamedTuple

from streamproc.analyze.histogram import REPORT_PER_DECADE
from streamproc.analyze.schema import CriticalPath, HistogramBin, PathSpan
from streamproc.report.table import duration_text, shorten

CHAR_PX = 7.0  # the width of a character of the 12 px labels, near enough for layout
WIDTH = 960


def px(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def text(x: float, y: float, content: str, cls: str = "", anchor: str = "start") -> str:
    attrs = f' class="{cls}"' if cls else ""
    if anchor != "start":
        attrs += f' text-anchor="{anchor}"'
    return f'<text x="{px(x)}" y="{px(y)}"{attrs}>{escape(content)}</text>'


def rect(x: float, y: float, w: float, h: float, cls: str, *, title: str = "") -> str:
    tip = f"<title>{escape(title)}</title>" if title else ""
    close = f">{tip}</rect>" if tip else "/>"
    return f'<rect class="{cls}" x="{px(x)}" y="{px(y)}" width="{px(max(w, 0.5))}" height="{px(h)}"{close}'


def svg(width: float, height: float, label: str, body: Sequence[str], cls: str) -> str:
    return (
        f'<svg class="{cls}" role="img" aria-label="{escape(label)}" width="{px(width)}" '
        f'height="{px(height)}" viewBox="0 0 {px(width)} {px(height)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


class Bar(NamedTuple):
    label: str
    value: float
    value_text: str
    cls: str = "bar"


def bar_chart(bars: Sequence[Bar], label: str, *, label_chars: int = 48) -> str:
    """One row a bar: its label on the left, the bar scaled to the largest value, the value as text."""
    row, left = 22, min(label_chars, max((len(b.label) for b in bars), default=10)) * CHAR_PX + 12
    value_px = max((len(b.value_text) for b in bars), default=8) * CHAR_PX + 12
    span = WIDTH - left - value_px
    top = max((b.value for b in bars), default=0) or 1
    body = []
    for i, b in enumerate(bars):
        y = i * row
        length = span * b.value / top
        body.append(text(left - 8, y + 15, shorten(b.label, label_chars), "label", "end"))
        body.append(rect(left, y + 4, length, row - 8, b.cls, title=f"{b.label}: {b.value_text}"))
        body.append(text(left + length + 6, y + 15, b.value_text, "value"))
    return svg(WIDTH, len(bars) * row + 4, label, body, "bars")


def _bin_share(bins: list[HistogramBin]) -> dict[float, float]:
    total = sum(b["count"] for b in bins) or 1
    return {b["le_ms"]: b["count"] * 100 / total for b in bins}


def histogram_chart(
    bins: list[HistogramBin],
    markers: Sequence[tuple[str, float]],
    threshold_ms: float,
    *,
    baseline: list[HistogramBin] | None = None,
) -> str:
    """Trace durations on a log axis as a share of traces per bin, the percentile markers and the alert
    threshold as labelled lines; a baseline's distribution as an outline over it."""
    left, right, top, bottom, height = 56.0, 24.0, 34.0, 40.0, 280.0
    ratio = 10 ** (1 / REPORT_PER_DECADE)
    every = [b["le_ms"] for b in bins + (baseline or [])]
    low = math.log10(min([*every, threshold_ms]) / ratio)
    high = math.log10(max([*every, threshold_ms]) * ratio)
    low, high = math.floor(low), math.ceil(high)
    plot_w, plot_h = WIDTH - left - right, height - top - bottom

    def x_of(value_ms: float) -> float:
        return left + plot_w * (math.log10(max(value_ms, 1e-6)) - low) / (high - low)

    shares = _bin_share(bins)
    base_shares = _bin_share(baseline) if baseline else {}
    peak = max([*shares.values(), *base_shares.values(), 1.0])

    def y_of(share: float) -> float:
        return top + plot_h * (1 - share / peak)

    body = [
        f'<line class="axis" x1="{px(left)}" y1="{px(top + plot_h)}" x2="{px(WIDTH - right)}" '
        f'y2="{px(top + plot_h)}"/>'
    ]
    for decade in range(low, high + 1):
        x = x_of(10.0**decade)
        body.append(f'<line class="grid" x1="{px(x)}" y1="{px(top)}" x2="{px(x)}" y2="{px(top + plot_h)}"/>')
        body.append(text(x, top + plot_h + 16, duration_text(10.0**decade), "tick", "middle"))
    body.append(text(left - 6, top + 4, f"{peak:.0f} %", "tick", "end"))
    body.append(text(left - 6, top + plot_h, "0 %", "tick", "end"))
    body.append(
        text(
            left + plot_w / 2,
            height - 6,
            "trace duration (log scale); bars: share of traces",
            "tick",
            "middle",
        )
    )
    for cls, drawn, prefix in (("bin", shares, ""), ("baseline", base_shares, "baseline, ")):
        for le_ms, share in drawn.items():
            x0, x1, y = x_of(le_ms / ratio), x_of(le_ms), y_of(share)
            tip = f"{prefix}{duration_text(le_ms / ratio)} to {duration_text(le_ms)}: {share:.1f} % of traces"
            body.append(rect(x0 + 0.5, y, x1 - x0 - 1, top + plot_h - y, cls, title=tip))
    legend = [("bin", "current")] + ([("baseline", "baseline (dashed outline)")] if baseline else [])
    for i, (cls, name) in enumerate(legend):
        body.append(rect(left + 10, top + 4 + i * 16, 12, 10, f"{cls} swatch"))
        body.append(text(left + 28, top + 13 + i * 16, name, "tick"))
    for i, (name, value) in enumerate(markers):
        x = x_of(value)
        body.append(
            f'<line class="marker" x1="{px(x)}" y1="{px(top - 4)}" x2="{px(x)}" y2="{px(top + plot_h)}"/>'
        )
        body.append(text(x + 3, top - 8 - (i % 2) * 12, f"{name} {duration_text(value)}", "marker-label"))
    x = x_of(threshold_ms)
    body.append(f'<line class="threshold" x1="{px(x)}" y1="{px(top)}" x2="{px(x)}" y2="{px(top + plot_h)}"/>')
    body.append(text(x - 4, top + 14, f"{duration_text(threshold_ms)} threshold", "threshold-label", "end"))
    return svg(WIDTH, height, "Latency histogram of trace durations", body, "histogram")


class _Row(NamedTuple):
    members: list[PathSpan]  # spans on the path with the same service and operation under the same row
    depth: int


def _rows(spans: list[PathSpan]) -> list[_Row]:
    """The path's spans as waterfall rows, parents first: siblings of the same service and operation share
    a row (a loop of 100 queries is one row of 100 bars), whose children are grouped the same way; rows in
    the order their first span starts."""
    children: dict[int | None, list[int]] = {}
    for position, span in enumerate(spans):
        children.setdefault(span["parent"], []).append(position)

    def grouped(positions: list[int]) -> list[list[int]]:
        groups: dict[tuple[str, str], list[int]] = {}
        for p in sorted(positions, key=lambda p: spans[p]["start_ms"]):
            groups.setdefault((spans[p]["service"], spans[p]["operation"]), []).append(p)
        return list(groups.values())

    rows: list[_Row] = []
    stack = [(group, 0) for group in reversed(grouped(children.get(None, [])))]
    while stack:
        group, depth = stack.pop()
        rows.append(_Row([spans[p] for p in group], depth))
        below = [kid for p in group for kid in children.get(p, [])]
        stack.extend((kids, depth + 1) for kids in reversed(grouped(below)))
    return rows


MAX_ROWS = 60


def waterfall(path: CriticalPath) -> str:
    """A slowest trace's critical path as a waterfall: a row for each span on the path (indented by depth;
    repeated siblings share one), its whole duration light and its stretches on the path dark; spans off
    the path are folded into a count beside the span they hang from."""
    rows = _rows(path["spans"])
    shown, hidden = rows[:MAX_ROWS], sum(len(r.members) for r in rows[MAX_ROWS:])
    row, label_w, top = 20, 330.0, 22.0
    total = path["total_duration_ms"] or 1e-9
    plot_w = WIDTH - label_w - 170
    body = []
    for quarter in range(5):
        x = label_w + plot_w * quarter / 4
        body.append(
            f'<line class="grid" x1="{px(x)}" y1="{px(top - 4)}" x2="{px(x)}" '
            f'y2="{px(top + len(shown) * row)}"/>'
        )
        body.append(
            text(x, top - 8, duration_text(total * quarter / 4) if quarter else "0", "tick", "middle")
        )
    for i, (members, depth) in enumerate(shown):
        y = top + i * row
        first = members[0]
        name = f"{first['service']}: {first['operation']}"
        label = name if len(members) == 1 else f"{name} ×{len(members)}"  # noqa: RUF001
        indent = min(depth, 12) * 10
        body.append(text(4 + indent, y + 14, shorten(label, int((label_w - 12 - indent) / CHAR_PX)), "label"))
        body.append('<g class="row">')
        tip = f"{label}: {_row_note(members)}"
        for cls, error in (("span", False), ("span error", True)):
            stretches = [
                (s["start_ms"], s["start_ms"] + s["duration_ms"]) for s in members if s["error"] is error
            ]
            for x0, x1 in _touching(stretches, total / plot_w):
                width = plot_w * (x1 - x0) / total
                body.append(rect(label_w + plot_w * x0 / total, y + 3, width, row - 6, cls, title=tip))
        sections = [(start, end) for s in members for start, end in s["sections"]]
        for x0, x1 in _touching(sections, total / plot_w):
            tip = f"on the critical path: {duration_text(x1 - x0)}"
            width = plot_w * (x1 - x0) / total
            body.append(rect(label_w + plot_w * x0 / total, y + 6, width, row - 12, "critical", title=tip))
        body.append(
            text(label_w + plot_w * _row_end(members) / total + 4, y + 14, _row_note(members), "value")
        )
        body.append("</g>")
    height = top + len(shown) * row + 6
    if hidden > 0:
        body.append(text(4, height + 10, f"… {hidden:,} more spans on the path", "muted"))
        height += 18
    label = f"Critical path of trace {path['trace_id']}, {duration_text(path['total_duration_ms'])}"
    return svg(WIDTH, height, label, body, "waterfall")


def _touching(stretches: list[tuple[float, float]], pixel_ms: float) -> list[tuple[float, float]]:
    """Stretches (ms) that overlap or lie within a pixel of each other, joined: a row of 1,000 queries
    draws as many rectangles as it has visible gaps, not 1,000."""
    joined: list[tuple[float, float]] = []
    for start, end in sorted(stretches):
        if joined and start <= joined[-1][1] + pixel_ms:
            if end > joined[-1][1]:
                joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


def _row_end(members: list[PathSpan]) -> float:
    return max(span["start_ms"] + span["duration_ms"] for span in members)


def _row_note(members: list[PathSpan]) -> str:
    """The row's duration (or its spans' total), errors in words, and the spans folded below it."""
    if len(members) == 1:
        note = duration_text(members[0]["duration_ms"])
    else:
        note = f"{duration_text(sum(s['duration_ms'] for s in members))} in all"
    errors = sum(s["error"] for s in members)
    if errors:
        note += " error" if len(members) == 1 else f" {errors} errors"
    off_path = sum(s["off_path_spans"] for s in members)
    if off_path:
        note += f" +{off_path:,} off path"
    return note
