"""Pieces every decoder shares: id parsing, attribute extraction, per-span problems, grouping into traces."""

from __future__ import annotations

import binascii
import functools
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from streamproc.model import (
    ATTRIBUTE_COUNT,
    ATTRIBUTE_INDEX,
    NAME_LIMIT,
    NO_ATTRIBUTES,
    SPAN_ID_BYTES,
    TEXT_LIMIT,
    SkippedSpan,
    SkipReason,
    Span,
    SpanAttributes,
    SpanKind,
    StatusCode,
    Trace,
    new_tuple,
)

T = TypeVar("T")

TRACE_ID_BYTES = 16


class SpanProblem(Exception):  # noqa: N818 - a signal inside decoders, never raised past them
    """Raised while building one span; the decoder turns it into a SkippedSpan and goes on."""

    def __init__(self, reason: SkipReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class DecodeResult:
    """Spans decoded from one input, and the spans that had to be skipped."""

    spans: list[Span] = field(default_factory=list)
    skipped: list[SkippedSpan] = field(default_factory=list)

    def skip(self, problem: SpanProblem, raw: Any, trace_key: str, span_key: str) -> None:
        if isinstance(raw, dict):
            trace_id, span_id = raw.get(trace_key, ""), raw.get(span_key, "")
        else:  # a typed struct, or something that is neither
            trace_id, span_id = getattr(raw, trace_key, ""), getattr(raw, span_key, "")
        self.skipped.append(
            SkippedSpan(problem.reason, problem.detail, _id_text(trace_id), _id_text(span_id))
        )

    def extend(self, other: DecodeResult) -> None:
        self.spans.extend(other.spans)
        self.skipped.extend(other.skipped)


def _id_text(value: Any) -> str:
    return "" if value is None else str(value)


def parse_hex_id(
    value: Any,
    *,
    sizes: tuple[int, ...],
    pad_to: int,
    reason: SkipReason,
    what: str,
    base64: bool = False,
    short: bool = False,
) -> bytes:
    """Decode a hex id of one of `sizes` bytes, left-padded with zeros to `pad_to` bytes. With `base64`,
    an id as long as the base64 form of one of `sizes` (24 characters for 16 bytes, 12 for 8; never a
    valid hex length there) is read as base64, as protobuf's JSON mapping writes bytes. With `short`, hex
    shorter than the largest size is a number written without its leading zeros (Jaeger's model prints
    ids so: span id "2").

    An all-zero id is invalid (OTLP and W3C trace context both say so).
    """
    if not isinstance(value, str):
        raise SpanProblem(reason, f"{what} is {type(value).__name__}, expected a hex string")
    if base64 and len(value) in {_base64_length(size) for size in sizes}:
        try:
            raw = binascii.a2b_base64(value, strict_mode=True)
        except binascii.Error:
            raise SpanProblem(reason, f"{what} {value!r} is neither hex nor base64") from None
        if len(raw) not in sizes:
            expected = " or ".join(str(size) for size in sizes)
            raise SpanProblem(reason, f"{what} {value!r} is {len(raw)} bytes in base64, expected {expected}")
        return _checked_id(raw, value, sizes=sizes, pad_to=pad_to, reason=reason, what=what)
    if short and 0 < len(value) < 2 * max(sizes):
        value = value.zfill(2 * min(size for size in sizes if 2 * size >= len(value)))
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise SpanProblem(reason, f"{what} {value!r} is not hex") from None
    return _checked_id(raw, value, sizes=sizes, pad_to=pad_to, reason=reason, what=what)


#: A trace id of 16 bytes (give `sizes=(8, 16)` where 64-bit ones are allowed: they are zero-extended).
parse_trace_id = functools.partial(
    parse_hex_id, sizes=(16,), pad_to=TRACE_ID_BYTES, reason=SkipReason.BAD_TRACE_ID, what="trace id"
)


def parse_span_id(value: Any, *, base64: bool = False, short: bool = False) -> bytes:
    """A span id of 8 bytes (`parse_hex_id`'s rules). Every span has its own, so the common case, 16 hex
    digits, not all zeros, is decoded here directly: a partial with keywords costs more than the decoding."""
    if type(value) is str and len(value) == 2 * SPAN_ID_BYTES:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            pass  # not hex: parse_hex_id says so
        else:
            if len(raw) == SPAN_ID_BYTES and any(raw):
                return raw
    return parse_hex_id(
        value,
        sizes=(SPAN_ID_BYTES,),
        pad_to=SPAN_ID_BYTES,
        reason=SkipReason.BAD_SPAN_ID,
        what="span id",
        base64=base64,
        short=short,
    )


def _base64_length(size: int) -> int:
    return 4 * -(-size // 3)


def _checked_id(
    raw: bytes, value: str, *, sizes: tuple[int, ...], pad_to: int, reason: SkipReason, what: str
) -> bytes:
    """`raw` if it is one of `sizes` bytes and not all zeros, left-padded with zeros to `pad_to` bytes."""
    if len(raw) not in sizes:
        expected = " or ".join(str(size * 2) for size in sizes)
        raise SpanProblem(reason, f"{what} {value!r} has {len(value)} hex digits, expected {expected}")
    if not any(raw):
        raise SpanProblem(reason, f"{what} is all zeros")
    if len(raw) < pad_to:
        raw = bytes(pad_to - len(raw)) + raw
    return raw


def parse_parent_id(
    value: Any, *, sizes: tuple[int, ...] = (SPAN_ID_BYTES,), base64: bool = False, short: bool = False
) -> bytes:
    """A parent span id; empty, missing or all-zero means the span is a root."""
    if value is None or value == "":
        return b""
    if isinstance(value, str) and value.strip("0") == "":
        return b""
    if base64 and isinstance(value, str) and value.rstrip("=").strip("A") == "":
        return b""  # all zeros in base64
    return parse_hex_id(
        value,
        sizes=sizes,
        pad_to=SPAN_ID_BYTES,
        reason=SkipReason.BAD_PARENT_ID,
        what="parent span id",
        base64=base64,
        short=short,
    )


def to_int(value: Any, what: str) -> int:
    """An integer field that JSON may carry as a number or (int64 in OTLP JSON) as a string."""
    if isinstance(value, bool):
        raise SpanProblem(SkipReason.BAD_FIELD, f"{what} is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    if value is None:
        raise SpanProblem(SkipReason.MISSING_FIELD, f"{what} is missing")
    raise SpanProblem(SkipReason.BAD_FIELD, f"{what} {value!r} is not an integer")


#: Times beyond OTLP's own range (unsigned 64-bit nanoseconds, the year 2554) are not real.
MAX_TIME_NS = 2**64 - 1


def check_times(start_ns: int, end_ns: int) -> None:
    if not 0 <= start_ns <= MAX_TIME_NS or not 0 <= end_ns <= MAX_TIME_NS:
        raise SpanProblem(SkipReason.BAD_FIELD, f"time {max(start_ns, end_ns)} ns is out of range")
    if end_ns < start_ns:
        raise SpanProblem(SkipReason.END_BEFORE_START, f"end {end_ns} is before start {start_ns}")


def scalar_text(value: Any) -> str | None:
    """A scalar attribute value as text (booleans lowercase, as OTel renders them); None for containers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return None


def extract_attributes(pairs: Iterable[tuple[str, Any]]) -> SpanAttributes:
    """Keep only the attributes the analyses use; the preferred key wins where both conventions appear."""
    values: list[str | None] | None = None
    preferred = 0  # bit per field: its value came from its preferred key (rank 0)
    for key, value in pairs:
        slot = ATTRIBUTE_INDEX.get(key)
        if slot is None:
            continue
        text = scalar_text(value)
        if text is None:
            continue
        if values is None:
            values = [None] * ATTRIBUTE_COUNT
        position, rank = slot
        if keeps(values, preferred, position, rank):
            values[position] = text
            if rank == 0:
                preferred |= 1 << position
    if values is None:
        return NO_ATTRIBUTES
    return share_attributes(values)


def keeps(values: list[str | None], preferred: int, position: int, rank: int) -> bool:
    """Whether a value of `rank` for field `position` replaces what `values` holds: the first value of
    the preferred key (rank 0) always does, the first of the other (rank 1) only where none is held (each
    field has at most two keys, `ATTRIBUTE_KEYS`). No per-field ranks to allocate and reset per span."""
    if rank == 0:
        return not preferred >> position & 1
    return values[position] is None


class SharedValues(Generic[T]):
    """One copy of each recurring equal value (as `sys.intern` does for names), bounded.

    Most spans carry one of a few attribute sets (a route, a method and a status; a peer and a database
    system): sharing the first copy of each saves the tuple and its strings for every later span, about a
    third of a buffered span's memory. Values that never recur (a statement with a literal in it) would
    grow the table without bound, so it is emptied whenever it reaches `limit`; the recurring ones are back
    after their next occurrence.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._values: dict[T, T] = {}

    def share(self, value: T, first: Callable[[T], T] | None = None) -> T:
        """The shared copy of `value`. A value seen for the first time passes through `first` (which may
        cut it); a value `first` changed is stored as changed, so the table never holds the original."""
        shared = self._values.get(value)
        if shared is not None:
            return shared
        if first is not None:
            value = first(value)
        if len(self._values) >= self._limit:
            self._values.clear()
        return self._values.setdefault(value, value)

    def get(self, value: T) -> T | None:
        """The shared copy of a value equal to `value` if there is one (a plain tuple finds a NamedTuple)."""
        return self._values.get(value)

    def __len__(self) -> int:
        """Values held now (at most `limit`)."""
        return len(self._values)


#: Attribute sets shared by every decoder (dict operations are atomic, so gRPC handler threads may share it).
ATTRIBUTE_SETS: SharedValues[SpanAttributes] = SharedValues(limit=4096)


def intern_text(value: Any, default: str = "") -> str:
    """Service and operation names repeat across spans: keep one copy of each, cut to NAME_LIMIT."""
    if not isinstance(value, str) or not value:
        return default
    return sys.intern(value if len(value) <= NAME_LIMIT else cut(value, NAME_LIMIT))


def cut(text: str, limit: int = TEXT_LIMIT) -> str:
    """`text` if it is at most `limit` characters, else its first `limit - 1` and an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: Per field of SpanAttributes, the length it is cut to: names are label values, the rest free text.
_ATTRIBUTE_LIMITS = tuple(
    TEXT_LIMIT if field in ("db_statement", "exception_type", "exception_message") else NAME_LIMIT
    for field in SpanAttributes._fields
)


def _bounded(attributes: SpanAttributes) -> SpanAttributes:
    """The attribute set with every value cut to its field's limit (run once per distinct set)."""
    if all(v is None or len(v) <= n for v, n in zip(attributes, _ATTRIBUTE_LIMITS, strict=True)):
        return attributes
    return SpanAttributes(
        *(None if v is None else cut(v, n) for v, n in zip(attributes, _ATTRIBUTE_LIMITS, strict=True))
    )


def share_attributes(values: list[str | None]) -> SpanAttributes:
    """The shared, bounded attribute set of these values (see `SharedValues`).

    Looked up by a plain tuple first (equal to the NamedTuple, and four times cheaper to build): a
    SpanAttributes is built only for a set seen for the first time.
    """
    shared = ATTRIBUTE_SETS.get(tuple(values))  # type: ignore[arg-type]  # equal and equally hashed
    if shared is not None:
        return shared
    return ATTRIBUTE_SETS.share(SpanAttributes(*values), _bounded)


_KINDS = tuple(SpanKind)
_CODES = tuple(StatusCode)


def _check_id(value: bytes, size: int, reason: SkipReason, what: str) -> bytes:
    if len(value) != size:
        raise SpanProblem(reason, f"{what} has {len(value)} bytes, expected {size}")
    if not any(value):
        raise SpanProblem(reason, f"{what} is all zeros")
    return value


def otlp_span(  # noqa: PLR0917 - a span's wire fields, once per span on the hot path
    ids: dict[bytes, bytes],
    trace_id: bytes,
    span_id: bytes,
    parent: bytes,
    service: str,
    name: str,
    kind_number: int,
    start: int,
    end: int,
    code_number: int,
    message: str,
    attributes: SpanAttributes,
) -> Span:
    """A span of an OTLP protobuf request, from its fields as the wire holds them (both OTLP decoders).

    Ids are raw bytes on this wire: a trace id must be 16 bytes and a span id 8, neither all zeros; a
    parent id is empty or 8 bytes (all zeros: none). A span ending before it starts is rejected. Equal ids
    share one bytes object through `ids` (a request holds several spans of each trace, parents with their
    children: a trace id is 49 bytes, a span id 41). Unknown kinds and status codes read as unspecified
    and unset, as OTLP's open enums allow.
    """
    trace_id = ids.setdefault(trace_id, trace_id)
    span_id = ids.setdefault(span_id, span_id)
    if len(trace_id) != TRACE_ID_BYTES or not any(trace_id):
        _check_id(trace_id, TRACE_ID_BYTES, SkipReason.BAD_TRACE_ID, "trace id")
    if len(span_id) != SPAN_ID_BYTES or not any(span_id):
        _check_id(span_id, SPAN_ID_BYTES, SkipReason.BAD_SPAN_ID, "span id")
    if parent and len(parent) != SPAN_ID_BYTES:
        raise SpanProblem(SkipReason.BAD_PARENT_ID, f"parent span id has {len(parent)} bytes, expected 8")
    if end < start:
        raise SpanProblem(SkipReason.END_BEFORE_START, f"end {end} is before start {start}")
    code = _CODES[code_number] if 0 <= code_number < len(_CODES) else StatusCode.UNSET
    return new_tuple(
        Span,
        (
            trace_id,
            span_id,
            ids.setdefault(parent, parent) if parent and any(parent) else b"",
            service,
            intern_text(name),
            _KINDS[kind_number] if 0 <= kind_number < len(_KINDS) else SpanKind.UNSPECIFIED,
            start,
            end,
            code,
            cut(message) if code is StatusCode.ERROR else "",
            attributes,
        ),
    )


def group_traces(spans: Iterable[Span]) -> tuple[list[Trace], list[SkippedSpan]]:
    """Group spans by trace id, in first-seen order; a repeated span id within a trace is skipped."""
    by_trace: dict[bytes, dict[bytes, Span]] = {}
    skipped: list[SkippedSpan] = []
    for span in spans:
        members = by_trace.get(span.trace_id)
        if members is None:
            by_trace[span.trace_id] = {span.span_id: span}
        elif span.span_id in members:
            skipped.append(
                SkippedSpan(
                    SkipReason.DUPLICATE_SPAN,
                    "span id repeats within its trace",
                    span.trace_id.hex(),
                    span.span_id.hex(),
                )
            )
        else:
            members[span.span_id] = span
    traces = [Trace(trace_id, tuple(members.values())) for trace_id, members in by_trace.items()]
    return traces, skipped
