"""OTLP protobuf (`ExportTraceServiceRequest`) bytes into spans, read straight from the wire format.

What both receivers decode. It reads only the fields the span model needs and walks past the rest, giving
what `otlp_proto` gives from the protobuf runtime's parse of the same bytes (a property test over
generated requests holds the two equal), at less than half the cost once compiled (`BENCHMARKS.md`).

The protobuf rules it keeps: fields in any order; a repeated singular field's last value wins and a
repeated message field merges (a span's second `status` updates the first); a field with an unexpected
wire type is an unknown field; unknown fields of every wire type, groups included, are skipped; enums are
open (an unknown kind reads as unspecified). It is at least as strict as the runtime on the framing: a
truncated varint or field, a length past its message, a varint longer than ten bytes (a tag or a length
longer than five), a tag beyond 32 bits, field number 0, wire types 6 and 7, an unbalanced group, and
nesting deeper than the runtime's 100 levels reject the request, also inside the messages it does not
read (links, scopes, other events, array and map values); the strings it keeps (the service name, span
names, status messages, analysed attribute values) must be UTF-8. Like `otlp_proto`, a bad span (ids,
times) is skipped with its reason.
"""

from __future__ import annotations

import struct

from streamproc.decode.common import (
    DecodeResult,
    SpanProblem,
    intern_text,
    keeps,
    otlp_span,
    share_attributes,
)
from streamproc.decode.protowire import (
    LENGTH,
    MAX_DEPTH,
    corrupt,
    count_path,
    int32,
    read_fixed64,
    read_length,
    read_tag,
    read_text,
    read_varint,
    skip_field,
)
from streamproc.model import (
    ATTRIBUTE_COUNT,
    ATTRIBUTE_INDEX,
    NO_ATTRIBUTES,
    UNKNOWN_SERVICE,
    SkippedSpan,
    Span,
    SpanAttributes,
)

#: Attribute key -> its field's position in SpanAttributes << 8 | its preference rank (lower wins).
_ATTRIBUTE_SLOTS: dict[bytes, int] = {
    key.encode(): position << 8 | rank for key, (position, rank) in ATTRIBUTE_INDEX.items()
}
_SERVICE_NAME: dict[bytes, int] = {b"service.name": 0}
_DOUBLE = struct.Struct("<d")
_EXCEPTION = b"exception"

# The message types below the request, for checking the framing of those it walks past: per type, its
# fields that hold messages (field number -> type). Every other field is a scalar, string or bytes.
_RESOURCE = 0
_SCOPE = 1
_EVENT = 2
_LINK = 3
_KEY_VALUE = 4
_ANY_VALUE = 5
_ARRAY = 6
_KEY_VALUE_LIST = 7
_ENTITY_REF = 8
_STATUS = 9
MESSAGE_FIELDS: tuple[dict[int, int], ...] = (
    {1: _KEY_VALUE, 3: _ENTITY_REF},  # Resource: attributes, entity_refs
    {3: _KEY_VALUE},  # InstrumentationScope: attributes
    {3: _KEY_VALUE},  # Span.Event: attributes
    {4: _KEY_VALUE},  # Span.Link: attributes
    {2: _ANY_VALUE},  # KeyValue: value
    {5: _ARRAY, 6: _KEY_VALUE_LIST},  # AnyValue: array_value, kvlist_value
    {1: _ANY_VALUE},  # ArrayValue: values
    {1: _KEY_VALUE},  # KeyValueList: values
    {},  # EntityRef
    {},  # Status
)


def _check(data: bytes, pos: int, end: int, kind: int, depth: int) -> None:
    """The framing of a message this decoder walks past, as the runtime would check it when parsing it."""
    if depth > MAX_DEPTH:
        raise corrupt("nested too deep", pos)
    fields = MESSAGE_FIELDS[kind]
    while pos < end:
        tag, pos = read_tag(data, pos, end)
        inner = fields.get(tag >> 3, -1) if tag & 7 == LENGTH else -1
        if inner < 0:
            pos = skip_field(data, pos, end, tag, depth)
        else:
            start, pos = read_length(data, pos, end)
            _check(data, start, pos, inner, depth + 1)


def _any_value(  # noqa: PLR0917 - the oneof's state in and out, unboxed (no object per value)
    data: bytes, pos: int, end: int, which: int, text: str | None, depth: int
) -> tuple[int, str | None]:
    """An AnyValue's oneof case (its field number, 0 if unset) and scalar text, read on from `which` and
    `text` (a repeated AnyValue merges: the last case set wins)."""
    if depth > MAX_DEPTH:
        raise corrupt("nested too deep", pos)
    while pos < end:
        tag, pos = read_tag(data, pos, end)
        if tag == 0x0A:  # string_value
            start, pos = read_length(data, pos, end)
            which, text = 1, read_text(data, start, pos)
        elif tag == 0x18:  # int_value
            number, pos = read_varint(data, pos, end)
            which, text = 3, str(number - (1 << 64) if number >= 1 << 63 else number)
        elif tag == 0x10:  # bool_value
            number, pos = read_varint(data, pos, end)
            which, text = 2, "true" if number else "false"
        elif tag == 0x21:  # double_value
            if pos + 8 > end:
                raise corrupt("truncated fixed64", pos)
            which, text = 4, str(_DOUBLE.unpack_from(data, pos)[0])
            pos += 8
        elif tag == 0x2A or tag == 0x32:  # noqa: PLR1714 - array_value, kvlist_value (ints: no tuple built)
            start, pos = read_length(data, pos, end)
            _check(data, start, pos, _ARRAY if tag == 0x2A else _KEY_VALUE_LIST, depth + 1)
            which, text = tag >> 3, None
        elif tag == 0x3A:  # bytes_value
            pos = read_length(data, pos, end)[1]
            which, text = 7, None
        else:
            pos = skip_field(data, pos, end, tag, depth)
    return which, text


def _key_value(
    data: bytes, pos: int, end: int, depth: int, wanted: dict[bytes, int]
) -> tuple[int, int, str | None]:
    """A KeyValue's key looked up in `wanted` (-1 if not there) and, for a wanted key, its value's oneof
    case and scalar text as `_any_value` reads them (for any other key, its value's framing is checked)."""
    key_start = key_end = value_start = value_end = pos
    more: list[int] | None = None  # the start and end of each value after the first (they merge)
    values = 0
    while pos < end:
        tag, pos = read_tag(data, pos, end)
        if tag == 0x0A:  # key
            key_start, pos = read_length(data, pos, end)
            key_end = pos
        elif tag == 0x12:  # value
            start, pos = read_length(data, pos, end)
            if values == 0:
                value_start, value_end = start, pos
            else:
                if more is None:
                    more = []
                more.append(start)
                more.append(pos)
            values += 1
        else:
            pos = skip_field(data, pos, end, tag, depth)
    slot = wanted.get(data[key_start:key_end], -1)
    which = 0
    text: str | None = None
    if values:
        which, text = _value(data, value_start, value_end, slot, depth + 1)
    if more is not None:  # a repeated value merges into the first
        for i in range(0, len(more), 2):
            if slot < 0:
                _check(data, more[i], more[i + 1], _ANY_VALUE, depth + 1)
            else:
                which, text = _any_value(data, more[i], more[i + 1], which, text, depth + 1)
    return slot, which, text


def _value(data: bytes, pos: int, end: int, slot: int, depth: int) -> tuple[int, str | None]:
    """A wanted key's value as `_any_value` reads it; any other's framing checked (case 0: not read)."""
    if slot < 0:
        _check(data, pos, end, _ANY_VALUE, depth)
        return 0, None
    return _any_value(data, pos, end, 0, None, depth)


class _Attributes:
    """The analysed attributes of one span, collected in one pass (the preferred key wins); reused."""

    __slots__ = ("preferred", "values")

    def __init__(self) -> None:
        self.values: list[str | None] | None = None
        self.preferred = 0  # see `keeps`

    def read(self, data: bytes, pos: int, end: int, depth: int) -> None:
        """Take the KeyValue between `pos` and `end` if its key is analysed and its value a scalar."""
        slot, _which, text = _key_value(data, pos, end, depth, _ATTRIBUTE_SLOTS)
        if text is None:  # not analysed, or not a scalar
            return
        values = self.values
        if values is None:
            values = self.values = [None] * ATTRIBUTE_COUNT
        position = slot >> 8
        rank = slot & 0xFF
        if keeps(values, self.preferred, position, rank):
            values[position] = text
            if rank == 0:
                self.preferred |= 1 << position

    def take(self) -> SpanAttributes:
        """The attributes read since the last `take`."""
        values = self.values
        if values is None:
            return NO_ATTRIBUTES
        self.values = None
        self.preferred = 0
        return share_attributes(values)


class _Request:
    """What the spans of one request go to, the ids they share (see `otlp_span`), a reused attribute set."""

    __slots__ = ("attributes", "ids", "result")

    def __init__(self) -> None:
        self.result = DecodeResult()
        self.ids: dict[bytes, bytes] = {}
        self.attributes = _Attributes()


def decode_export_bytes(data: bytes) -> DecodeResult:
    """The spans of a serialized ExportTraceServiceRequest; WireFormatError if it is not one."""
    request = _Request()
    pos, end = 0, len(data)
    while pos < end:
        tag, pos = read_tag(data, pos, end)
        if tag == 0x0A:  # resource_spans
            start, pos = read_length(data, pos, end)
            _resource_spans(data, start, pos, request)
        else:
            pos = skip_field(data, pos, end, tag, 0)
    return request.result


def _resource_spans(data: bytes, pos: int, end: int, request: _Request) -> None:
    # The resource may follow its spans on the wire: find the service first, then read the spans.
    scopes: list[int] = []
    service: str | None = None
    found = False
    while pos < end:
        tag, pos = read_tag(data, pos, end)
        if tag == 0x0A:  # resource (repeated: its attributes concatenate; the first service.name counts)
            start, pos = read_length(data, pos, end)
            name, found = _resource(data, start, pos, found)
            if name is not None:
                service = name
        elif tag == 0x12:  # scope_spans
            start, pos = read_length(data, pos, end)
            scopes.append(start)
            scopes.append(pos)
        else:
            pos = skip_field(data, pos, end, tag, 1)
    name = intern_text(service, UNKNOWN_SERVICE)
    for i in range(0, len(scopes), 2):
        _scope_spans(data, scopes[i], scopes[i + 1], name, request)


def _resource(data: bytes, pos: int, end: int, found: bool) -> tuple[str | None, bool]:
    """A Resource's service name if it holds the first `service.name` key, and whether one was found."""
    service: str | None = None
    while pos < end:
        tag, pos = read_tag(data, pos, end)
        if tag == 0x0A:  # attributes
            start, pos = read_length(data, pos, end)
            slot, which, text = _key_value(data, start, pos, 3, _SERVICE_NAME)
            if not found and slot == 0:
                found = True
                service = text if which == 1 else None  # a string; any other value is no name
        elif tag == 0x1A:  # entity_refs
            start, pos = read_length(data, pos, end)
            _check(data, start, pos, _ENTITY_REF, 3)
        else:
            pos = skip_field(data, pos, end, tag, 2)
    return service, found


def _scope_spans(data: bytes, pos: int, end: int, service: str, request: _Request) -> None:
    while pos < end:
        tag, pos = read_tag(data, pos, end)
        if tag == 0x12:  # spans
            start, pos = read_length(data, pos, end)
            _span(data, start, pos, service, request)
        elif tag == 0x0A:  # scope
            start, pos = read_length(data, pos, end)
            _check(data, start, pos, _SCOPE, 3)
        else:
            pos = skip_field(data, pos, end, tag, 2)


def _span(data: bytes, pos: int, end: int, service: str, request: _Request) -> None:  # noqa: PLR0912, PLR0915
    # One branch per field, the most frequent first: the tag's dispatch, kept flat for speed.
    trace_id = span_id = parent = b""
    name = message = ""
    kind = code = start_ns = end_ns = 0
    attributes = request.attributes
    exception: list[int] | None = None  # the first exception event's attributes: start and end of each
    while pos < end:
        tag, pos = read_tag(data, pos, end)
        if tag == 0x4A:  # attributes
            start, pos = read_length(data, pos, end)
            attributes.read(data, start, pos, 4)
        elif tag == 0x39:  # start_time_unix_nano
            start_ns = read_fixed64(data, pos, end)
            pos += 8
        elif tag == 0x41:  # end_time_unix_nano
            end_ns = read_fixed64(data, pos, end)
            pos += 8
        elif tag == 0x0A:  # trace_id
            start, pos = read_length(data, pos, end)
            trace_id = data[start:pos]
        elif tag == 0x12:  # span_id
            start, pos = read_length(data, pos, end)
            span_id = data[start:pos]
        elif tag == 0x22:  # parent_span_id
            start, pos = read_length(data, pos, end)
            parent = data[start:pos]
        elif tag == 0x2A:  # name
            start, pos = read_length(data, pos, end)
            name = read_text(data, start, pos)
        elif tag == 0x30:  # kind
            number, pos = read_varint(data, pos, end)
            kind = int32(number)
        elif tag == 0x5A:  # events
            start, pos = read_length(data, pos, end)
            if exception is None:
                exception = _event(data, start, pos)
            else:
                _check(data, start, pos, _EVENT, 4)
        elif tag == 0x7A:  # status (repeated: merged)
            start, pos = read_length(data, pos, end)
            code, message = _status(data, start, pos, code, message)
        elif tag == 0x6A:  # links
            start, pos = read_length(data, pos, end)
            _check(data, start, pos, _LINK, 4)
        else:
            pos = skip_field(data, pos, end, tag, 3)
    if exception is not None:  # after the span's own attributes, which take precedence
        for i in range(0, len(exception), 2):
            attributes.read(data, exception[i], exception[i + 1], 5)
    try:
        span: Span = otlp_span(
            request.ids,
            trace_id,
            span_id,
            parent,
            service,
            name,
            kind,
            start_ns,
            end_ns,
            code,
            message,
            attributes.take(),
        )
    except SpanProblem as problem:
        request.result.skipped.append(
            SkippedSpan(problem.reason, problem.detail, trace_id.hex(), span_id.hex())
        )
        return
    request.result.spans.append(span)


def _event(data: bytes, pos: int, end: int) -> list[int] | None:
    """For an event named `exception`, where its attributes are (start and end of each); else None."""
    name_start = name_end = pos
    found: list[int] = []
    while pos < end:
        tag, pos = read_tag(data, pos, end)
        if tag == 0x12:  # name
            name_start, pos = read_length(data, pos, end)
            name_end = pos
        elif tag == 0x1A:  # attributes
            start, pos = read_length(data, pos, end)
            found.append(start)
            found.append(pos)
        else:
            pos = skip_field(data, pos, end, tag, 4)
    if data[name_start:name_end] == _EXCEPTION:
        return found
    for i in range(0, len(found), 2):
        _check(data, found[i], found[i + 1], _KEY_VALUE, 5)
    return None


def _status(data: bytes, pos: int, end: int, code: int, message: str) -> tuple[int, str]:
    while pos < end:
        tag, pos = read_tag(data, pos, end)
        if tag == 0x12:  # message
            start, pos = read_length(data, pos, end)
            message = read_text(data, start, pos)
        elif tag == 0x18:  # code
            number, pos = read_varint(data, pos, end)
            code = int32(number)
        else:
            pos = skip_field(data, pos, end, tag, 4)
    return code, message


def count_spans(data: bytes) -> int:
    """How many spans a request holds (0 if its framing is broken): for counting a request refused whole."""
    return count_path(data, (1, 2, 2))  # resource_spans, scope_spans, spans
