"""Aligned plain-text tables and number formatting for the text report."""

from __future__ import annotations

from collections.abc import Sequence


def num(value: float, decimals: int = 0) -> str:
    """Thousands separators: 1,850 or 1,850.5."""
    return f"{value:,.{decimals}f}"


def ms_text(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}ms" if abs(value) >= 100 else f"{value:,.1f}ms"


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
