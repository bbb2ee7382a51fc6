"""OTLP protobuf requests split by trace id at the byte level, for `serve --workers` (`live.workers`): each
share a valid ExportTraceServiceRequest holding its spans under copies of their resource and scope, for
the worker that owns those traces to decode (`otlp_wire`). Only the framing down to the spans is read."""

from __future__ import annotations

from streamproc.decode.protowire import read_length, read_tag, skip_field


def route_request(data: bytes, parts: int) -> list[bytes]:
    """The request split into `parts` requests by trace id (Python's hash of a span's trace id bytes,
    modulo `parts`: the share a worker owns), each holding its spans under copies of their resource and
    scope; b"" for a share without anything to decode. Only the framing down to the spans is read
    (WireFormatError if it is broken); decoding each share finds everything else, so a resource or scope
    without spans goes to the first share, to be decoded (and refused if it must be) as the whole would."""
    shares = [bytearray() for _ in range(parts)]
    pos, end = 0, len(data)
    while pos < end:
        tag, pos = read_tag(data, pos, end)
        if tag == 0x0A:  # resource_spans
            start, pos = read_length(data, pos, end)
            _route_resource(data, start, pos, shares)
        else:
            pos = skip_field(data, pos, end, tag, 0)
    return [bytes(share) for share in shares]


def _route_resource(data: bytes, pos: int, end: int, shares: list[bytearray]) -> None:
    head = bytearray()  # every field but the scopes: the resource, schema_url, unknown ones
    bodies = [bytearray() for _ in shares]
    while pos < end:
        field = pos
        tag, pos = read_tag(data, pos, end)
        if tag == 0x12:  # scope_spans
            start, pos = read_length(data, pos, end)
            routed = _route_scope(data, start, pos, len(shares))
            if not any(routed):  # no spans: still decoded (by the first share), as the whole would be
                routed[0] = bytearray(data[start:pos])
            for share, body in enumerate(routed):
                if body:
                    _append_field(bodies[share], 0x12, body)
        else:
            pos = skip_field(data, pos, end, tag, 1)
            head += data[field:pos]
    if not any(bodies):
        _append_field(shares[0], 0x0A, head)  # a resource without spans: decoded all the same
        return
    for share, body in enumerate(bodies):
        if body:
            _append_field(shares[share], 0x0A, head + body)


def _route_scope(data: bytes, pos: int, end: int, parts: int) -> list[bytearray]:
    head = bytearray()  # the scope, schema_url, unknown fields
    spans = [bytearray() for _ in range(parts)]
    while pos < end:
        field = pos
        tag, pos = read_tag(data, pos, end)
        if tag == 0x12:  # spans
            start, pos = read_length(data, pos, end)
            spans[hash(_trace_id(data, start, pos)) % parts] += data[field:pos]
        else:
            pos = skip_field(data, pos, end, tag, 2)
            head += data[field:pos]
    return [head + share if share else share for share in spans]


def _trace_id(data: bytes, pos: int, end: int) -> bytes:
    """A span's trace id (its last, as protobuf reads a repeated field), or b"" if it has none."""
    found = b""
    while pos < end:
        tag, pos = read_tag(data, pos, end)
        if tag == 0x0A:
            start, pos = read_length(data, pos, end)
            found = data[start:pos]
        else:
            pos = skip_field(data, pos, end, tag, 3)
    return found


def _append_field(out: bytearray, tag: int, body: bytes | bytearray) -> None:
    out.append(tag)
    size = len(body)
    while size >= 0x80:
        out.append((size & 0x7F) | 0x80)
        size >>= 7
    out.append(size)
    out += body
