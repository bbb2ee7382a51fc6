"""The wire-format OTLP decoder (`decode.otlp_wire`) against the reference: the protobuf runtime's parse
read by `decode.otlp_proto`.

On every request the runtime accepts, both give the same spans and skipped spans. Requests are generated
with every field of the trace protocol set or not (every AnyValue type, events, links, scopes, entity
references, unknown kinds and codes) and then rewritten on the wire into other valid encodings of the same
request: fields interleaved in another order, a singular message split into two occurrences (protobuf
merges them), a singular field repeated after a decoy (the last wins), unknown fields of every wire type
(groups included), known field numbers with another wire type (unknown fields too), non-minimal varints.
On bytes the runtime refuses, the wire decoder refuses them as well, unless the only fault is a string
that is not UTF-8 where it keeps no string: a runtime reading every string field as bytes (a descriptor
pool built for this test) must then accept them.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError as PB2DecodeError
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest as PB2ExportTraceServiceRequest,
)
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.common.v1.common_pb2 import AnyValue as PB2AnyValue
from opentelemetry.proto.common.v1.common_pb2 import KeyValue as PB2KeyValue
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PB2Span

from streamproc.decode.common import DecodeResult
from streamproc.decode.otlp_proto import decode_export_request
from streamproc.decode.otlp_route import route_request
from streamproc.decode.otlp_wire import MESSAGE_FIELDS, count_spans, decode_export_bytes
from streamproc.decode.protowire import MAX_DEPTH, WireFormatError
from tests.test_fuzz import FUZZ, KEYS, any_values, ids

REQUEST = PB2ExportTraceServiceRequest.DESCRIPTOR
FIXTURES = Path(__file__).parent / "fixtures"


# --- the reference and the oracle for strings it does not keep ----------------------------------------


def _bytes_typed_request_class() -> Any:
    """ExportTraceServiceRequest in a pool where every string field is `bytes`: the same wire format,
    parsed with every check but UTF-8."""
    pool = descriptor_pool.DescriptorPool()
    for module in (common_pb2, resource_pb2, trace_pb2, trace_service_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        stack = list(proto.message_type)
        while stack:
            message = stack.pop()
            stack.extend(message.nested_type)
            for field in message.field:
                if field.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING:
                    field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
        pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(REQUEST.full_name))


BYTES_TYPED_REQUEST = _bytes_typed_request_class()


def reference(raw: bytes) -> DecodeResult | None:
    try:
        return decode_export_request(PB2ExportTraceServiceRequest.FromString(raw))
    except PB2DecodeError:
        return None


def wire(raw: bytes) -> DecodeResult | None:
    try:
        return decode_export_bytes(raw)
    except WireFormatError:
        return None


def _same(ours: DecodeResult, theirs: DecodeResult) -> bool:
    return ours.skipped == theirs.skipped and ours.spans == theirs.spans


def assert_agrees(raw: bytes) -> DecodeResult | None:
    """The property: equal results where the runtime accepts; a refusal where it refuses, unless only the
    UTF-8 of a string the wire decoder does not keep was at fault."""
    expected, got = reference(raw), wire(raw)
    if expected is not None:
        assert got is not None, "the wire decoder refused a request the protobuf runtime accepts"
        assert _same(got, expected)
    elif got is not None:
        try:
            BYTES_TYPED_REQUEST.FromString(raw)
        except PB2DecodeError:
            pytest.fail("the wire decoder accepted bytes whose framing the protobuf runtime refuses")
    return got


# --- generated requests: every field of the protocol --------------------------------------------------

texts = st.one_of(st.text(max_size=12), st.sampled_from(["", "exception", "GET /a", "é中😀"]))


def key_values(draw: st.DrawFn, max_size: int = 3) -> list[PB2KeyValue]:
    pairs = draw(
        st.lists(st.tuples(st.one_of(st.sampled_from(KEYS), texts), any_values()), max_size=max_size)
    )
    return [PB2KeyValue(key=key, value=value) for key, value in pairs]


@st.composite
def full_requests(draw: st.DrawFn) -> PB2ExportTraceServiceRequest:
    request = PB2ExportTraceServiceRequest()
    span_ids = [b"\x00" * 7 + bytes([n]) for n in range(1, 5)]
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        resource_spans = request.resource_spans.add(schema_url=draw(texts))
        if draw(st.booleans()):
            resource = resource_spans.resource
            resource.attributes.extend(key_values(draw))
            resource.dropped_attributes_count = draw(st.integers(min_value=0, max_value=2**32 - 1))
            for _ in range(draw(st.integers(min_value=0, max_value=2))):
                resource.entity_refs.add(type=draw(texts), id_keys=draw(st.lists(texts, max_size=2)))
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            scope_spans = resource_spans.scope_spans.add(schema_url=draw(texts))
            if draw(st.booleans()):
                scope_spans.scope.name, scope_spans.scope.version = draw(texts), draw(texts)
                scope_spans.scope.attributes.extend(key_values(draw, 2))
            for _ in range(draw(st.integers(min_value=0, max_value=4))):
                span = scope_spans.spans.add(
                    trace_id=draw(st.one_of(st.just(b"\x01" * 16), ids)),
                    span_id=draw(st.one_of(st.sampled_from(span_ids), ids)),
                    parent_span_id=draw(st.one_of(st.sampled_from([b"", *span_ids]), ids)),
                    trace_state=draw(texts),
                    name=draw(texts),
                    kind=draw(st.integers(min_value=-(2**31), max_value=2**31 - 1) | st.integers(0, 6)),
                    start_time_unix_nano=draw(st.integers(min_value=0, max_value=2**64 - 1)),
                    end_time_unix_nano=draw(st.integers(min_value=0, max_value=2**64 - 1)),
                    dropped_attributes_count=draw(st.integers(min_value=0, max_value=3)),
                    flags=draw(st.integers(min_value=0, max_value=2**32 - 1)),
                )
                span.attributes.extend(key_values(draw, 4))
                for _ in range(draw(st.integers(min_value=0, max_value=3))):
                    event = span.events.add(
                        name=draw(st.sampled_from(["exception", "log", ""])),
                        time_unix_nano=draw(st.integers(min_value=0, max_value=2**64 - 1)),
                    )
                    event.attributes.extend(key_values(draw, 3))
                for _ in range(draw(st.integers(min_value=0, max_value=2))):
                    link = span.links.add(trace_id=draw(ids), span_id=draw(ids), trace_state=draw(texts))
                    link.attributes.extend(key_values(draw, 2))
                if draw(st.booleans()):
                    span.status.code = draw(
                        st.integers(min_value=-(2**31), max_value=2**31 - 1) | st.integers(0, 3)
                    )
                    span.status.message = draw(texts)
    return request


# --- a generic wire rewriter: other valid encodings of the same request --------------------------------


def _varint(value: int, padding: int = 0, limit: int = 10) -> bytes:
    """The varint of `value`, `padding` bytes longer than it need be (never past `limit` bytes in all: the
    runtime reads ten for a value, five for a tag or a length)."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if not value:
            break
        out.append(byte | 0x80)
    padding = min(padding, limit - 1 - len(out))
    if padding > 0:
        out.append(byte | 0x80)
        out.extend(b"\x80" * (padding - 1))
        byte = 0
    out.append(byte)
    return bytes(out)


def parse_fields(data: bytes) -> list[tuple[int, int, Any]]:
    """One message level: (field number, wire type, value), the value an int, or the raw bytes of a
    length-delimited field or of a group's content."""
    fields, pos = [], 0
    while pos < len(data):
        tag, pos = _read_varint(data, pos)
        value, pos = _read_value(data, pos, tag)
        fields.append((tag >> 3, tag & 7, value))
    return fields


def _read_value(data: bytes, pos: int, tag: int) -> tuple[Any, int]:
    wire_type = tag & 7
    if wire_type == 0:
        return _read_varint(data, pos)
    if wire_type == 1:
        return data[pos : pos + 8], pos + 8
    if wire_type == 5:
        return data[pos : pos + 4], pos + 4
    if wire_type == 2:
        size, pos = _read_varint(data, pos)
        return data[pos : pos + size], pos + size
    assert wire_type == 3
    start = pos
    while True:
        inner, after = _read_varint(data, pos)
        if inner == (tag >> 3) << 3 | 4:
            return data[start:pos], after
        pos = _read_value(data, after, inner)[1]


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def encode_field(number: int, wire_type: int, value: Any, padding: int = 0) -> bytes:
    tag = _varint(number << 3 | wire_type)
    if wire_type == 0:
        return tag + _varint(value, padding)
    if wire_type == 2:
        return tag + _varint(len(value), padding, limit=5) + value
    if wire_type == 3:  # a group: value is its encoded content
        return tag + value + _varint(number << 3 | 4)
    return tag + value


@st.composite
def unknown_fields(draw: st.DrawFn, taken: set[int], depth: int = 0) -> bytes:
    """An unknown field of any wire type; a group holds more of them."""
    number = draw(st.integers(min_value=1, max_value=2**29 - 1).filter(lambda n: n not in taken))
    wire_type = draw(st.sampled_from([0, 1, 2, 5] + ([3] if depth < 3 else [])))
    if wire_type == 0:
        value: Any = draw(st.integers(min_value=0, max_value=2**64 - 1))
    elif wire_type == 1:
        value = draw(st.binary(min_size=8, max_size=8))
    elif wire_type == 5:
        value = draw(st.binary(min_size=4, max_size=4))
    elif wire_type == 2:
        value = draw(st.binary(max_size=12))
    else:
        value = b"".join(draw(st.lists(unknown_fields(set(), depth + 1), max_size=2)))
    return encode_field(number, wire_type, value)


def _decoy(field: FieldDescriptor) -> tuple[int, Any]:
    """A value of the field's wire type that a later occurrence overrides."""
    if field.type in (
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_DOUBLE,
        FieldDescriptor.TYPE_SFIXED64,
    ):
        return 1, b"\x07" * 8
    if field.type in (
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FLOAT,
        FieldDescriptor.TYPE_SFIXED32,
    ):
        return 5, b"\x07" * 4
    if field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
        return 2, b"decoy"
    return 0, 7


def rewrite(draw: st.DrawFn, data: bytes, descriptor: Descriptor) -> bytes:
    """Another valid encoding of the message `data` of type `descriptor`, recursively."""
    known = {field.number: field for field in descriptor.fields}
    pieces: list[tuple[int, bytes]] = []  # (field number, encoded), in a new order below
    for number, wire_type, value in parse_fields(data):
        field = known.get(number)
        padding = draw(st.sampled_from([0, 0, 0, 1, 3]))
        if field is not None and field.message_type is not None and wire_type == 2:
            inner = rewrite(draw, value, field.message_type)
            if not field.is_repeated and draw(st.booleans()):  # split: two occurrences merge into one
                parts = parse_fields(inner)
                cut = draw(st.integers(min_value=0, max_value=len(parts)))
                first = b"".join(encode_field(*part) for part in parts[:cut])
                second = b"".join(encode_field(*part) for part in parts[cut:])
                pieces.append((number, encode_field(number, 2, first)))
                pieces.append((number, encode_field(number, 2, second, padding)))
                continue
            pieces.append((number, encode_field(number, 2, inner, padding)))
            continue
        if (
            field is not None
            and not field.is_repeated
            and field.containing_oneof is None
            and draw(st.booleans())
        ):
            decoy_type, decoy = _decoy(field)  # the same field before: the last occurrence wins
            pieces.append((number, encode_field(number, decoy_type, decoy)))
        if wire_type in (0, 2):
            pieces.append((number, encode_field(number, wire_type, value, padding)))
        else:
            pieces.append((number, encode_field(number, wire_type, value)))
    taken = set(known)
    for extra in draw(st.lists(unknown_fields(taken), max_size=2)):
        pieces.append((-1, extra))
    if known and draw(st.booleans()):  # a known number with another wire type: an unknown field
        field = draw(st.sampled_from(sorted(known.values(), key=lambda f: f.number)))
        other = draw(st.sampled_from([t for t in (0, 1, 2, 5) if t != _natural_wire_type(field)]))
        value = {0: 3, 1: b"\x00" * 8, 2: b"\x01\x02", 5: b"\x00" * 4}[other]
        pieces.append((-1, encode_field(field.number, other, value)))
    return b"".join(piece for _, piece in _interleave(draw, pieces))


def _natural_wire_type(field: FieldDescriptor) -> int:
    if field.message_type is not None or field.type in (
        FieldDescriptor.TYPE_STRING,
        FieldDescriptor.TYPE_BYTES,
    ):
        return 2
    return _decoy(field)[0]


def _interleave(draw: st.DrawFn, pieces: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """A random order that keeps the relative order of each field number's occurrences (which matters)."""
    queues: dict[int, list[tuple[int, bytes]]] = {}
    for piece in pieces:
        queues.setdefault(piece[0] if piece[0] >= 0 else -len(queues) - 1000, []).append(piece)
    order: list[tuple[int, bytes]] = []
    while queues:
        key = draw(st.sampled_from(sorted(queues)))
        order.append(queues[key].pop(0))
        if not queues[key]:
            del queues[key]
    return order


@st.composite
def encodings(draw: st.DrawFn) -> bytes:
    return rewrite(draw, draw(full_requests()).SerializeToString(), REQUEST)


# --- the properties ------------------------------------------------------------------------------------


@FUZZ
@given(full_requests())
def test_equal_to_the_runtime_on_generated_requests(request):
    raw = request.SerializeToString()
    assert reference(raw) is not None
    assert assert_agrees(raw) is not None
    assert count_spans(raw) == sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)


@FUZZ
@given(encodings())
def test_equal_to_the_runtime_on_other_encodings_of_a_request(raw):
    """Reordered, split, repeated, padded fields and unknown ones: still the same request."""
    assert reference(raw) is not None, "the rewriter made bytes the runtime refuses"
    assert_agrees(raw)


@FUZZ
@given(encodings(), st.data())
def test_at_least_as_strict_as_the_runtime_on_mutated_bytes(raw, data):
    """Flipped, cut and inserted bytes: refused by both, or decoded alike (UTF-8 aside, see above)."""
    mutated = bytearray(raw)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        if not mutated:
            break
        position = data.draw(st.integers(min_value=0, max_value=len(mutated) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "set"]))
        if action == "flip":
            mutated[position] ^= data.draw(st.integers(min_value=1, max_value=255))
        elif action == "cut":
            del mutated[position:]
        elif action == "insert":
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=6))
        else:  # a byte that often breaks framing: a continuation bit, a wire type 6/7, an end group
            mutated[position] = data.draw(st.sampled_from([0x80, 0xFF, 0x0E, 0x0F, 0x0C, 0x00]))
    assert_agrees(bytes(mutated))


@FUZZ
@given(st.binary(max_size=64))
def test_random_bytes(raw):
    assert_agrees(raw)


# --- the edges, one by one -----------------------------------------------------------------------------


def _span_request(span: bytes, resource: bytes = b"") -> bytes:
    scope = encode_field(2, 2, span)
    body = (encode_field(1, 2, resource) if resource else b"") + encode_field(2, 2, scope)
    return encode_field(1, 2, body)


GOOD_SPAN = PB2Span(
    trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="op", start_time_unix_nano=1, end_time_unix_nano=2
).SerializeToString()


@pytest.mark.parametrize(
    "raw",
    [
        b"\x0a",  # a length missing
        b"\x0a\x05\x12",  # a length past the end
        b"\x08",  # a varint missing
        b"\x08" + b"\xff" * 10 + b"\x01",  # eleven bytes
        b"\x00\x00",  # field number 0
        b"\x0e",  # wire type 6
        b"\x0f",  # wire type 7
        b"\x0c",  # the end of a group that never started
        b"\x0b\x14",  # a group ended by another field's number
        b"\x0b",  # a group never ended
        b"\x80\x80\x80\x80\x10\x00",  # a tag beyond 32 bits
        b"\x8a\x80\x80\x80\x80\x00\x00",  # a tag in six bytes
        b"\x0a\x80\x80\x80\x80\x80\x00",  # a length in six bytes
        b"\x09\x00\x00",  # a truncated fixed64
        b"\x0d\x00",  # a truncated fixed32
        _span_request(GOOD_SPAN + b"\x2a\x01\xff"),  # a span name that is not UTF-8
        _span_request(GOOD_SPAN + b"\x7a\x03\x12\x01\xff"),  # a status message that is not UTF-8
        _span_request(GOOD_SPAN + b"\x6a\x02\x22\x05"),  # a link's attribute cut short
        _span_request(GOOD_SPAN + b"\x5a\x03\x1a\x01\x0f"),  # an event's attribute with wire type 7
        _span_request(GOOD_SPAN, b"\x1a\x02\x0a\x07"),  # an entity reference cut short
    ],
)
def test_bytes_both_refuse(raw):
    assert reference(raw) is None
    with pytest.raises(WireFormatError, match="wire format corrupt at byte"):
        decode_export_bytes(raw)


def _nested_attribute(levels: int) -> bytes:
    """A span attribute whose value nests `levels` ArrayValue-AnyValue pairs (two message levels each)."""
    value = b""
    for _ in range(levels):
        value = encode_field(5, 2, encode_field(1, 2, value))
    return encode_field(9, 2, encode_field(1, 2, b"k") + encode_field(2, 2, value))


@pytest.mark.parametrize("levels", [46, 47, 48, 49])
def test_nesting_limit_is_the_runtimes(levels):
    """The AnyValue of a span attribute is message level 5 below the request; the runtime stops past 100."""
    raw = _span_request(GOOD_SPAN + _nested_attribute(levels))
    assert (reference(raw) is None) == (wire(raw) is None) == (5 + 2 * levels > MAX_DEPTH)


@pytest.mark.parametrize("groups", [MAX_DEPTH, MAX_DEPTH + 1])
def test_group_nesting_limit_is_the_runtimes(groups):
    raw = b"\x0b" * groups + b"\x0c" * groups
    assert (reference(raw) is None) == (wire(raw) is None) == (groups > MAX_DEPTH)


def test_message_fields_table_matches_the_protocol():
    """Every message the decoder walks past is checked for the message fields the runtime would parse."""
    by_name = {
        "Resource": 0, "InstrumentationScope": 1, "Event": 2, "Link": 3, "KeyValue": 4,
        "AnyValue": 5, "ArrayValue": 6, "KeyValueList": 7, "EntityRef": 8, "Status": 9,
    }  # fmt: skip
    descriptors = {
        "Resource": resource_pb2.Resource.DESCRIPTOR,
        "InstrumentationScope": common_pb2.InstrumentationScope.DESCRIPTOR,
        "Event": PB2Span.Event.DESCRIPTOR,
        "Link": PB2Span.Link.DESCRIPTOR,
        "KeyValue": PB2KeyValue.DESCRIPTOR,
        "AnyValue": PB2AnyValue.DESCRIPTOR,
        "ArrayValue": common_pb2.ArrayValue.DESCRIPTOR,
        "KeyValueList": common_pb2.KeyValueList.DESCRIPTOR,
        "EntityRef": common_pb2.EntityRef.DESCRIPTOR,
        "Status": trace_pb2.Status.DESCRIPTOR,
    }
    for name, descriptor in descriptors.items():
        expected = {f.number: by_name[f.message_type.name] for f in descriptor.fields if f.message_type}
        assert MESSAGE_FIELDS[by_name[name]] == expected, name


def test_merged_status_and_last_name_win_as_in_the_runtime():
    span = (
        GOOD_SPAN
        + encode_field(5, 2, b"later")
        + encode_field(15, 2, b"\x18\x02")  # code ERROR
        + encode_field(15, 2, encode_field(2, 2, b"boom"))  # message, merged into the same status
    )
    raw = _span_request(span)
    result = assert_agrees(raw)
    assert result is not None
    assert (result.spans[0].name, result.spans[0].status_message) == ("later", "boom")


def test_service_name_after_the_spans_and_only_a_string_names_a_service():
    resource = PB2KeyValue(key="service.name", value=PB2AnyValue(string_value="checkout")).SerializeToString()
    body = encode_field(2, 2, encode_field(2, 2, GOOD_SPAN)) + encode_field(
        1, 2, encode_field(1, 2, resource)
    )
    result = assert_agrees(encode_field(1, 2, body))
    assert result is not None and result.spans[0].service == "checkout"
    number = PB2KeyValue(key="service.name", value=PB2AnyValue(int_value=7)).SerializeToString()
    raw = _span_request(GOOD_SPAN, encode_field(1, 2, number) + encode_field(1, 2, resource))
    result = assert_agrees(raw)
    assert result is not None and result.spans[0].service == "unknown_service"  # the first key decides


def test_double_attribute_values_print_as_the_reference_prints_them():
    for number in (0.5, -0.0, math.inf, 1e300, 5e-324):
        span = PB2Span.FromString(GOOD_SPAN)
        span.attributes.add(key="http.status_code").value.double_value = number
        raw = _span_request(span.SerializeToString())
        result = assert_agrees(raw)
        assert result is not None and result.spans[0].attributes.http_status_code == str(number)


def _protobuf_json(node: Any) -> Any:
    """OTLP JSON as protobuf's JSON mapping reads it: hex ids in base64, Tempo's `batches` resourceSpans."""
    if isinstance(node, list):
        return [_protobuf_json(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str) and _is_hex(value):
            out[key] = base64.b64encode(bytes.fromhex(value)).decode()
        else:
            out["resourceSpans" if key == "batches" else key] = _protobuf_json(value)
    return out


def _is_hex(text: str) -> bool:
    return len(text) in (16, 32) and all(c in "0123456789abcdefABCDEF" for c in text)


@pytest.mark.parametrize("name", ["otlp-example.json", "tempo-queue-database.json"])
def test_real_exports_as_protobuf(name):
    """Real OTLP JSON exports (the fixtures `test_real_exports` reads: the OTLP specification's example
    file and a Tempo trace) sent as protobuf decode alike, every span kept."""
    document = _protobuf_json(json.loads((FIXTURES / name).read_text()))
    request = json_format.ParseDict(document, PB2ExportTraceServiceRequest(), ignore_unknown_fields=True)
    raw = request.SerializeToString()
    result = assert_agrees(raw)
    assert result is not None
    assert len(result.spans) == count_spans(raw) > 0


# --- splitting a request by trace id (`serve --workers`) ---------------------------------------------


def _by_trace(result: DecodeResult) -> tuple[list, list]:
    return sorted(result.spans, key=repr), sorted(result.skipped, key=repr)


def _routed(raw: bytes, parts: int) -> DecodeResult | None:
    """The shares decoded one by one and put together; None if splitting or any share refuses."""
    try:
        shares = route_request(raw, parts)
    except WireFormatError:
        return None
    together = DecodeResult()
    for part, share in enumerate(shares):
        if not share:
            continue
        decoded = wire(share)
        if decoded is None:
            return None
        assert all(hash(span.trace_id) % parts == part for span in decoded.spans)
        together.extend(decoded)
    return together


@FUZZ
@given(encodings(), st.integers(min_value=1, max_value=3))
def test_split_shares_decode_to_the_requests_spans(raw, parts):
    """Each share holds only the spans of the traces its worker owns; together they decode to the request."""
    whole = wire(raw)
    assert whole is not None
    routed = _routed(raw, parts)
    assert routed is not None
    assert _by_trace(routed) == _by_trace(whole)


@FUZZ
@given(encodings(), st.data())
def test_a_split_request_is_refused_wherever_the_whole_is(raw, data):
    """Mutated bytes: if the request does not decode, splitting it or decoding some share refuses it."""
    mutated = bytearray(raw)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        if not mutated:
            break
        position = data.draw(st.integers(min_value=0, max_value=len(mutated) - 1))
        mutated[position] ^= data.draw(st.integers(min_value=1, max_value=255))
    whole, routed = wire(bytes(mutated)), _routed(bytes(mutated), 2)
    assert (whole is None) == (routed is None)
    if whole is not None and routed is not None:
        assert _by_trace(routed) == _by_trace(whole)
