"""The span and trace values every other layer works with (stdlib only).

Times are integer nanoseconds since the epoch, ids are raw bytes (hex only at the edges). A span keeps only
the attributes the analyses read (DESIGN section 3); decoders extract them and drop the rest.

`Span` and `SpanAttributes` are `typing.NamedTuple`s rather than frozen dataclasses: both are immutable,
but a NamedTuple builds about five times faster (0.37 µs against 1.76 µs for a frozen slotted dataclass
of the same fields, measured on the development machine), and spans are built millions of times.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from streamproc.pickling import frozen_reduce

#: `new_tuple(Kind, (every field, in order))`: a NamedTuple built by tuple's own constructor, without the
#: class's generated `__new__` (a Python function taking keywords and defaults): half the cost of `Kind(...)`
#: where it runs per span or per trace. Nothing checks the fields: give each one.
new_tuple = tuple.__new__


class SpanKind(enum.IntEnum):
    """OTLP span kinds, with OTLP's numbering."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode(enum.IntEnum):
    """OTLP status codes, with OTLP's numbering."""

    UNSET = 0
    OK = 1
    ERROR = 2


class SpanAttributes(NamedTuple):
    """The attributes the analyses use; None where the span did not carry one."""

    peer_service: str | None = None
    server_address: str | None = None
    net_peer_name: str | None = None
    db_system: str | None = None
    db_name: str | None = None
    db_statement: str | None = None
    http_route: str | None = None
    http_method: str | None = None
    http_status_code: str | None = None
    rpc_service: str | None = None
    rpc_method: str | None = None
    messaging_system: str | None = None
    exception_type: str | None = None
    exception_message: str | None = None


NO_ATTRIBUTES = SpanAttributes()
ATTRIBUTE_COUNT = len(SpanAttributes._fields)

#: Attribute keys per field of SpanAttributes, preferred key first (the newer semantic convention).
ATTRIBUTE_KEYS: dict[str, tuple[str, ...]] = {
    "peer_service": ("peer.service",),
    "server_address": ("server.address",),
    "net_peer_name": ("net.peer.name",),
    "db_system": ("db.system", "db.system.name"),
    "db_name": ("db.name", "db.namespace"),
    "db_statement": ("db.query.text", "db.statement"),
    "http_route": ("http.route",),
    "http_method": ("http.request.method", "http.method"),
    "http_status_code": ("http.response.status_code", "http.status_code"),
    "rpc_service": ("rpc.service",),
    "rpc_method": ("rpc.method",),
    "messaging_system": ("messaging.system",),
    "exception_type": ("exception.type",),
    "exception_message": ("exception.message",),
}

#: Reverse index: attribute key -> (field position in SpanAttributes, preference rank; lower wins).
ATTRIBUTE_INDEX: dict[str, tuple[int, int]] = {
    key: (SpanAttributes._fields.index(field), rank)
    for field, keys in ATTRIBUTE_KEYS.items()
    for rank, key in enumerate(keys)
}

UNKNOWN_SERVICE = "unknown_service"

#: Names (service, operation, peer, route) become metric label values and report keys: longer ones are
#: cut to this many characters at decode time, before they count toward any cardinality limit.
NAME_LIMIT = 256
#: Free text the analyses keep (status messages, statements, exception messages) is cut to this.
TEXT_LIMIT = 2048

SPAN_ID_BYTES = 8
#: A Zipkin shared SERVER span carries its client's span id; both live in one trace because the server's
#: copy gets this byte appended. Reports print the id the file gave (`span_id_hex`).
SHARED_SERVER_SUFFIX = b"\x01"


def span_id_hex(span_id: bytes) -> str:
    """A span id as reports print it: lowercase hex of the id the input gave."""
    return span_id[:SPAN_ID_BYTES].hex()


class Span(NamedTuple):
    """One span. `parent_span_id` is empty for a root span."""

    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    service: str
    name: str
    kind: SpanKind
    start_ns: int
    end_ns: int
    status: StatusCode = StatusCode.UNSET
    status_message: str = ""
    attributes: SpanAttributes = NO_ATTRIBUTES

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def is_error(self) -> bool:
        return self.status is StatusCode.ERROR


@dataclass(frozen=True, slots=True)
class Trace:
    """The spans of one trace, in arrival order. `partial` marks a trace completed before it was whole."""

    trace_id: bytes
    spans: tuple[Span, ...]
    partial: bool = False

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return frozen_reduce(self)


class SkipReason(enum.Enum):
    """Why a span was not analyzed. The values are stable: they appear in reports and metric labels."""

    BAD_TRACE_ID = "bad_trace_id"
    BAD_SPAN_ID = "bad_span_id"
    BAD_PARENT_ID = "bad_parent_id"
    END_BEFORE_START = "end_before_start"
    MISSING_FIELD = "missing_field"
    BAD_FIELD = "bad_field"
    DUPLICATE_SPAN = "duplicate_span"


@dataclass(frozen=True, slots=True)
class SkippedSpan:
    """A span a decoder or the grouping step could not use, with where it was and why."""

    reason: SkipReason
    detail: str
    trace_id: str = ""
    span_id: str = ""

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return frozen_reduce(self)
