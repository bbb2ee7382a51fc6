"""The one place the exception tree becomes a gRPC status and an HTTP status (DESIGN section 8)."""

from __future__ import annotations

from typing import NamedTuple

import grpc

from streamproc.errors import DecodeError, StreamprocError, Unauthenticated, Unavailable, UsageError


class Status(NamedTuple):
    grpc: grpc.StatusCode
    http: int


_STATUSES: tuple[tuple[type[StreamprocError], Status], ...] = (
    (Unauthenticated, Status(grpc.StatusCode.UNAUTHENTICATED, 401)),
    (Unavailable, Status(grpc.StatusCode.UNAVAILABLE, 503)),  # every OTLP exporter retries it
    (DecodeError, Status(grpc.StatusCode.INVALID_ARGUMENT, 400)),  # not retryable
    (UsageError, Status(grpc.StatusCode.INVALID_ARGUMENT, 400)),
)
_INTERNAL = Status(grpc.StatusCode.INTERNAL, 500)


def status_of(exc: StreamprocError) -> Status:
    """The gRPC and HTTP status that answer a request which raised `exc`."""
    for kind, status in _STATUSES:
        if isinstance(exc, kind):
            return status
    return _INTERNAL
