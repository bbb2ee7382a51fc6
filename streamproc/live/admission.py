"""Admission control shared by the OTLP receivers (gRPC and HTTP): one budget of requests and bytes in
flight for the one pipeline behind them, and one switch that stops accepting when the service drains.

A request is admitted before it is decoded, or refused with `Unavailable` (UNAVAILABLE, HTTP 503): the
sender retries it, and nothing of it was taken, so a retry never counts spans twice (DESIGN section 8).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from streamproc.errors import Unavailable


class Admission:
    def __init__(self, *, max_inflight: int, max_inflight_bytes: int) -> None:
        self.max_inflight = max_inflight
        self.max_inflight_bytes = max_inflight_bytes
        self.accepting = False
        self._inflight = 0
        self._inflight_bytes = 0
        self._lock = threading.Lock()

    @contextmanager
    def admitted(self, size: int) -> Iterator[None]:
        """Hold an in-flight slot and `size` bytes of the budget while the request is handled; raise
        `Unavailable` at once when the service is not accepting or the budget is spent. A request larger
        than the byte budget is admitted when it is the only one in flight (else it could never pass)."""
        if not self.accepting:
            raise Unavailable("shutting_down", "streamproc is shutting down")
        with self._lock:
            if self._inflight >= self.max_inflight or (
                self._inflight and self._inflight_bytes + size > self.max_inflight_bytes
            ):
                raise Unavailable("over_capacity", "streamproc is over capacity, retry later")
            self._inflight += 1
            self._inflight_bytes += size
        try:
            yield
        finally:
            with self._lock:
                self._inflight -= 1
                self._inflight_bytes -= size

    @property
    def inflight(self) -> int:
        with self._lock:
            return self._inflight

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no request is being handled; False if some still are after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.inflight == 0:
                return True
            time.sleep(0.01)
        return self.inflight == 0
