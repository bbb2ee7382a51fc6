"""Aligned plain-text tables and number formatting for the text report."""

from __future__ import annotations

from collections.abc import Sequence


def num(value: float, decimals: int = 0) -> str:
    """Thousands separators: 1,850 or 1,850.5."""
    return f"{value:,.{decimals}f}"


def duration_text(ms: float | None) -> str:
    """A duration given in ms, in the unit its magnitude reads best in, always with the unit:
    `12.5 µs`, `450 µs`, `60.1 ms`, `983 ms`, `1.75 s`, `50.0 s`, `1,250.5 s`. None is `-`."""
    if ms is None:
        return "-"
    size = abs(ms)
    if size < 1:
        us = ms * 1000
        return f"{us:,.1f} µs" if abs(us) < 100 else f"{us:,.0f} µs"
    if size < 1000:
        return f"{ms:,.1f} ms" if size < 100 else f"{ms:,.0f} ms"
    seconds = ms / 1000
    return f"{seconds:,.2f} s" if abs(seconds) < 10 else f"{seconds:,.1f} s"


def pct_text(value: float | None, decimals: int = 1) -> str:
    return "-" if value is None else f"{value:.{decimals}f}%"


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = (), indent: str = "  "
) -> list[str]:
    """Columns padded to their widest cell; columns listed in `right` are right-aligned (numbers)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return (indent + "  ".join(parts)).rstrip()

    return [line(headers), *(line(row) for row in rows)]
