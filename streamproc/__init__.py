"""streamproc: trace analysis for OpenTelemetry, live (OTLP in, metrics out) and batch (files in)."""

from __future__ import annotations

__version__ = "0.1.0"
