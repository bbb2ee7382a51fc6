"""Report rendering: the report object (DESIGN section 6) as JSON or as aligned text. Pure."""

from __future__ import annotations

from streamproc.report.render import render_json, render_text

__all__ = ["render_json", "render_text"]
